package scaffolder

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/fielderrors"
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
	return paved.InvalidFields(fielderrors.From(ve, "", "is not a known field")...)
}
