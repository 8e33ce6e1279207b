package fielderrors

import (
	"errors"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func TestFromNamesEveryLeaf(t *testing.T) {
	schema, err := jsonschema.UnmarshalJSON(strings.NewReader(`{"type":"object","additionalProperties":false,
		"required":["size"],"properties":{"size":{"enum":["small","large"]},"tags":{"type":"object","properties":{"team":{"type":"string"}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("mem://s.json", schema); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("mem://s.json")
	if err != nil {
		t.Fatal(err)
	}
	input, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"region":"x","tags":{"team":5}}`))
	var ve *jsonschema.ValidationError
	if !errors.As(s.Validate(input), &ve) {
		t.Fatal("want a validation error")
	}
	got := From(ve, "parameters", "is not a parameter")
	var fields []string
	for _, f := range got {
		fields = append(fields, f.Field+": "+f.Message)
	}
	want := []string{"parameters.region: is not a parameter", "parameters.size: is required", "parameters.tags.team: "}
	if len(fields) != len(want) {
		t.Fatalf("got %q", fields)
	}
	for i := range want {
		if !strings.HasPrefix(fields[i], want[i]) {
			t.Fatalf("field %d = %q, want prefix %q (all: %q)", i, fields[i], want[i], fields)
		}
	}
}
