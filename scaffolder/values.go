package scaffolder

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/paved-dev/paved"
)

// oddValues lists the values of a decoded input that pass any schema but
// that paved cannot keep: numbers beyond float64, which a handler cannot
// decode, and NUL bytes, which PostgreSQL refuses in text and JSON (and no
// field of any action means). Fields are dotted paths, as in schema errors.
func oddValues(v any, path string, out []paved.FieldError) []paved.FieldError {
	switch v := v.(type) {
	case json.Number:
		if _, err := v.Float64(); err != nil {
			out = append(out, paved.FieldError{Field: orInput(path), Message: "is a number out of range"})
		}
	case string:
		if strings.ContainsRune(v, 0) {
			out = append(out, paved.FieldError{Field: orInput(path), Message: "must not contain NUL bytes"})
		}
	case []any:
		for i, e := range v {
			out = oddValues(e, joinPath(path, strconv.Itoa(i)), out)
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if strings.ContainsRune(k, 0) {
				out = append(out, paved.FieldError{Field: joinPath(path, k), Message: "must not contain NUL bytes in its name"})
				continue
			}
			out = oddValues(v[k], joinPath(path, k), out)
		}
	}
	return out
}

func joinPath(parent, child string) string {
	if parent == "" {
		return child
	}
	return parent + "." + child
}

func orInput(path string) string {
	if path == "" {
		return "input"
	}
	return path
}
