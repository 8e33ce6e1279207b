// Package fielderrors turns a JSON Schema validation error into paved's field
// errors, so every input paved validates against a schema (action inputs,
// golden-path parameters) names its bad fields the same way.
package fielderrors

import (
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/paved-dev/paved"
)

var printer = message.NewPrinter(language.English)

// From lists every leaf of ve as a field error, sorted by field and without
// duplicates. Fields are dotted paths below prefix ("" for the top level);
// unknown says what an additional property is ("is not a known field").
func From(ve *jsonschema.ValidationError, prefix, unknown string) []paved.FieldError {
	var out []paved.FieldError
	collect(ve, prefix, unknown, &out)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	seen := map[paved.FieldError]bool{}
	uniq := out[:0]
	for _, f := range out {
		if !seen[f] {
			seen[f] = true
			uniq = append(uniq, f)
		}
	}
	return uniq
}

func collect(e *jsonschema.ValidationError, prefix, unknown string, out *[]paved.FieldError) {
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			collect(c, prefix, unknown, out)
		}
		return
	}
	segs := make([]string, len(e.InstanceLocation))
	for i, s := range e.InstanceLocation {
		segs[i] = key(s)
	}
	loc := join(prefix, strings.Join(segs, "."))
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range k.Missing {
			*out = append(*out, paved.FieldError{Field: join(loc, m), Message: "is required"})
		}
		return
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			*out = append(*out, paved.FieldError{Field: join(loc, key(p)), Message: unknown})
		}
		return
	}
	if loc == "" {
		loc = "input"
	}
	*out = append(*out, paved.FieldError{Field: loc, Message: localized(e.ErrorKind)})
}

// maxEcho bounds the part of a bad value that a message repeats: the caller
// sent the value, and a megabyte of it makes no message clearer.
const maxEcho = 64

// localized is k's text, with the value it quotes cut to maxEcho bytes.
func localized(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Pattern:
		if len(k.Got) > maxEcho {
			c := *k
			c.Got = cut(k.Got)
			return c.LocalizedString(printer)
		}
	case *kind.Format:
		if s, ok := k.Got.(string); ok && len(s) > maxEcho {
			c := *k
			c.Got = cut(s)
			return c.LocalizedString(printer)
		}
	}
	return k.LocalizedString(printer)
}

func cut(s string) string {
	n := maxEcho
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// key is a property name as a field path shows it: an empty name as the
// JSON that spells it, so that no field error names nothing.
func key(name string) string {
	if name == "" {
		return `""`
	}
	return name
}

func join(parent, child string) string {
	switch {
	case parent == "":
		return child
	case child == "":
		return parent
	}
	return parent + "." + child
}
