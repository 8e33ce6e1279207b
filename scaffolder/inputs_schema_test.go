package scaffolder

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// jsonFields lists the JSON names t decodes, embedded structs flattened.
func jsonFields(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// The published input schema is the one the handler validates against; the
// struct the handler decodes into must name exactly its properties, or a
// field the schema accepts would be dropped without a word (or a struct
// field could never be set).
func TestDecodedInputsNameTheSchemaProperties(t *testing.T) {
	apps := &appActions{AppActionsOptions{}}
	sets := &appSetActions{AppSetActionsOptions{}}
	for _, c := range []struct {
		action Action
		input  any
	}{
		{apps.create(), createInput{}},
		{sets.create(), appSetInput{}},
	} {
		props, _ := c.action.Input["properties"].(Schema)
		var want []string
		for k := range props {
			want = append(want, k)
		}
		slices.Sort(want)
		if got := jsonFields(reflect.TypeOf(c.input)); !slices.Equal(got, want) {
			t.Errorf("%s: the decoded input names %v, the schema %v", c.action.Name, got, want)
		}
	}
}
