package scaffolder

import (
	"encoding/json"
	"reflect"
	"testing"
)

// asJSON must give the output schema exactly what a JSON round trip gives.
func TestAsJSONMatchesRoundTrip(t *testing.T) {
	outputs := []map[string]any{
		{},
		{"name": "svc", "created": true, "url": "https://argocd.example/applications/svc", "none": nil},
		{"count": 3, "big": int64(1) << 40, "n": json.Number("1.5"), "ratio": 0.25},
		{"labels": map[string]string{"team": "a"}, "list": []string{"x", "y"}, "any": []any{"a", 1, false, map[string]any{"k": "v"}}},
		{"nested": map[string]any{"deep": map[string]any{"s": "é ✓"}}},
		{"bad": "\xff\xfe"}, // JSON replaces invalid UTF-8
		{"struct": struct{ A int }{1}},
	}
	for _, out := range outputs {
		raw, err := json.Marshal(out)
		if err != nil {
			t.Fatal(err)
		}
		want, err := decodeObject(raw)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := asJSON(out)
		if !ok || !reflect.DeepEqual(normalizeNumbers(got), normalizeNumbers(want)) {
			t.Errorf("asJSON(%#v) = %#v, %v; want %#v", out, got, ok, want)
		}
	}
}

// normalizeNumbers compares numbers by value: 0.25 encodes as "0.25" either way,
// but a float's spelling is not what the schema checks.
func normalizeNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		f, _ := v.Float64()
		return f
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			out[k] = normalizeNumbers(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = normalizeNumbers(e)
		}
		return out
	}
	return v
}
