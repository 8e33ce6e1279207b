package paved

import (
	"regexp"
	"strings"
)

// Kubernetes label rules, which Backstage shares for entity names: paved
// checks the labels and annotations a caller asks for, and names catalog
// entities, with these alone.

// MaxLabelValueLength is the longest label value (and Backstage entity name).
const MaxLabelValueLength = 63

var (
	labelKeyPattern   = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
	labelValuePattern = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$`)
)

// ValidLabelKey reports whether k is a valid label or annotation key: an
// optional DNS-subdomain prefix (at most 253 characters) and "/", then a name
// of at most 63 characters.
func ValidLabelKey(k string) bool {
	name := k
	if i := strings.LastIndexByte(k, '/'); i >= 0 {
		if i > 253 {
			return false
		}
		name = k[i+1:]
	}
	return len(name) <= MaxLabelValueLength && labelKeyPattern.MatchString(k)
}

// ValidLabelValue reports whether v is a valid label value: empty, or at most
// 63 characters of letters, digits, "-", "_" and ".", a letter or digit at
// both ends.
func ValidLabelValue(v string) bool {
	return len(v) <= MaxLabelValueLength && labelValuePattern.MatchString(v)
}

// LabelValue turns a Backstage ref ("component:default/payments") into a valid
// label value ("component.default.payments"), cut to 63 characters.
func LabelValue(ref string) string {
	b := []byte(ref)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			b[i] = '.'
		}
	}
	s := string(b)
	if len(s) > MaxLabelValueLength {
		s = s[len(s)-MaxLabelValueLength:]
	}
	return strings.Trim(s, "-_.")
}
