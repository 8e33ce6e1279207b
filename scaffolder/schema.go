package scaffolder

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/paved-dev/paved"
)

// Schema is a JSON Schema written as Go values. Actions publish it and the
// registry validates input against the very same document. No $ref is used:
// the scaffolder's own validator must understand it too.
type Schema = map[string]any

// Small constructors keep the action schemas readable.

func object(props Schema, required ...string) Schema {
	s := Schema{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func str(title, description string) Schema {
	return Schema{"type": "string", "title": title, "description": description}
}

func pattern(s Schema, re string, maxLen int) Schema {
	s["pattern"] = re
	if maxLen > 0 {
		s["maxLength"] = maxLen
	}
	return s
}

func boolean(title, description string, def bool) Schema {
	return Schema{"type": "boolean", "title": title, "description": description, "default": def}
}

func stringMap(title, description string) Schema {
	return Schema{"type": "object", "title": title, "description": description,
		"additionalProperties": Schema{"type": "string", "maxLength": 1024}, "maxProperties": 64}
}

func stringList(title, description string) Schema {
	return Schema{"type": "array", "title": title, "description": description,
		"items": Schema{"type": "string", "minLength": 1, "maxLength": 1024}, "maxItems": 64}
}

func withEnum(s Schema, values ...string) Schema {
	s["enum"] = values
	return s
}

func withDefault(s Schema, v any) Schema {
	s["default"] = v
	return s
}

// compiledSchema validates decoded JSON input.
type compiledSchema struct{ s *jsonschema.Schema }

func compile(id string, doc Schema) (compiledSchema, error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return compiledSchema{}, err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return compiledSchema{}, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	url := "mem://paved/" + id + ".json"
	if err := c.AddResource(url, v); err != nil {
		return compiledSchema{}, err
	}
	s, err := c.Compile(url)
	if err != nil {
		return compiledSchema{}, fmt.Errorf("schema %s: %w", id, err)
	}
	return compiledSchema{s: s}, nil
}

var printer = message.NewPrinter(language.English)

// validate returns an EInvalid error naming every bad field of v.
func (c compiledSchema) validate(v any) error {
	err := c.s.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return paved.Errorf(paved.EInvalid, "input: %v", err)
	}
	var fields []paved.FieldError
	collectFieldErrors(ve, &fields)
	sort.SliceStable(fields, func(i, j int) bool { return fields[i].Field < fields[j].Field })
	return paved.InvalidFields(dedupe(fields)...)
}

func collectFieldErrors(e *jsonschema.ValidationError, out *[]paved.FieldError) {
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			collectFieldErrors(c, out)
		}
		return
	}
	loc := strings.Join(e.InstanceLocation, ".")
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range k.Missing {
			*out = append(*out, paved.FieldError{Field: join(loc, m), Message: "is required"})
		}
		return
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			*out = append(*out, paved.FieldError{Field: join(loc, p), Message: "is not a known field"})
		}
		return
	}
	if loc == "" {
		loc = "input"
	}
	*out = append(*out, paved.FieldError{Field: loc, Message: e.ErrorKind.LocalizedString(printer)})
}

func join(parent, child string) string {
	if parent == "" {
		return child
	}
	return parent + "." + child
}

func dedupe(in []paved.FieldError) []paved.FieldError {
	out := in[:0]
	seen := map[paved.FieldError]bool{}
	for _, f := range in {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}
