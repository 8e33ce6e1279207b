package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"

	"github.com/paved-dev/paved"
)

// MaxNameLength is Backstage's limit for entity names and label values.
const MaxNameLength = paved.MaxLabelValueLength

var namespacePattern = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

// ValidName reports whether s is a valid Backstage entity name (and label
// value): 1–63 characters, letters, digits, "-", "_" and "." inside, a letter
// or digit at both ends.
func ValidName(s string) bool {
	return s != "" && paved.ValidLabelValue(s)
}

// ValidNamespace reports whether s is a valid Backstage entity namespace.
func ValidNamespace(s string) bool {
	return len(s) >= 1 && len(s) <= MaxNameLength && namespacePattern.MatchString(s)
}

// shortHash is 8 hex digits of SHA-256 over the parts: enough to keep apart
// the handful of names that collide, short enough to leave room for the name.
func shortHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:4])
}

// SanitizeName maps any string to a valid entity name, deterministically:
// lower case (Backstage compares names case-insensitively, so lower case
// makes collisions visible here rather than in the catalog), every run of
// characters Backstage refuses becomes one "-", and ends are trimmed to a
// letter or digit. A name that had to be shortened, or that was left empty,
// ends with a hash of the original so that two long names sharing a prefix
// stay apart. The second result says whether the name changed.
func SanitizeName(s string) (string, bool) {
	if ValidName(s) && strings.ToLower(s) == s {
		return s, false
	}
	var b strings.Builder
	b.Grow(len(s))
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_':
			b.WriteRune(r)
			dash = false
		case !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	name := trimToAlnum(b.String())
	if name == "" {
		return "x-" + shortHash(s), true
	}
	if len(name) > MaxNameLength {
		name = withSuffix(name, shortHash(s))
	}
	return name, true
}

// withSuffix returns name cut so that "-suffix" fits in MaxNameLength.
func withSuffix(name, suffix string) string {
	keep := MaxNameLength - len(suffix) - 1
	if len(name) > keep {
		name = trimToAlnum(name[:keep])
	}
	if name == "" {
		return "x-" + suffix
	}
	return name + "-" + suffix
}

func trimToAlnum(s string) string {
	return strings.TrimFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	})
}

// labelValue returns s when it is a valid label value, else "".
func labelValue(s string) string {
	if ValidName(s) {
		return s
	}
	return ""
}

var tagPattern = regexp.MustCompile(`^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$`)

// validTag reports whether s is a valid Backstage tag.
func validTag(s string) bool {
	return len(s) >= 1 && len(s) <= MaxNameLength && tagPattern.MatchString(s)
}
