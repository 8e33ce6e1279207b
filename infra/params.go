package infra

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/fielderrors"
)

func compileSchema(name string, doc map[string]any) (*jsonschema.Schema, error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	url := "mem://paved/infra-kinds/" + name + ".json"
	if err := c.AddResource(url, v); err != nil {
		return nil, err
	}
	return c.Compile(url)
}

// schemas caches compiled parameter schemas by kind name.
type schemas struct {
	mu sync.Mutex
	m  map[string]*jsonschema.Schema
}

// validate checks params against k's schema and returns one field error per
// problem, named "parameters.<field>".
func (s *schemas) validate(k Kind, params map[string]any) []paved.FieldError {
	s.mu.Lock()
	sch, ok := s.m[k.Name]
	if !ok {
		var err error
		if sch, err = compileSchema(k.Name, k.Parameters); err != nil {
			s.mu.Unlock()
			return []paved.FieldError{{Field: "kind", Message: "the kind's parameter schema does not compile"}}
		}
		if s.m == nil {
			s.m = map[string]*jsonschema.Schema{}
		}
		s.m[k.Name] = sch
	}
	s.mu.Unlock()
	// The validator wants json.Number, as the decoder produces it.
	raw, err := json.Marshal(params)
	if err != nil {
		return []paved.FieldError{{Field: "parameters", Message: "is not JSON"}}
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return []paved.FieldError{{Field: "parameters", Message: "is not JSON"}}
	}
	err = sch.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []paved.FieldError{{Field: "parameters", Message: err.Error()}}
	}
	return fielderrors.From(ve, "parameters", "is not a parameter of this kind")
}

// withDefaults returns params with the top-level defaults of k's schema
// filled in, so templates can rely on every declared parameter.
func withDefaults(k Kind, params map[string]any) map[string]any {
	out := make(map[string]any, len(params))
	for key, v := range params {
		out[key] = v
	}
	props, _ := k.Parameters["properties"].(map[string]any)
	for name, p := range props {
		ps, _ := p.(map[string]any)
		if def, ok := ps["default"]; ok {
			if _, set := out[name]; !set {
				out[name] = def
			}
		}
	}
	return out
}

func fieldsf(field, format string, args ...any) paved.FieldError {
	return paved.FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// lifetimeRE is the grammar of a resource's lifetime (a TTL, an extension):
// a whole number of days, hours or minutes, e.g. 7d, 8h or 90m.
var lifetimeRE = regexp.MustCompile(`^([0-9]{1,5})(d|h|m)$`)

// ParseLifetime reads a lifetime such as 7d, 8h or 90m; zero is not one.
func ParseLifetime(s string) (time.Duration, bool) {
	m := lifetimeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	n, _ := strconv.Atoi(m[1])
	if n == 0 {
		return 0, false
	}
	unit := map[string]time.Duration{"d": 24 * time.Hour, "h": time.Hour, "m": time.Minute}[m[2]]
	return time.Duration(n) * unit, true
}
