// Package examples holds no code: its test checks that the example
// templates are Backstage Template entities whose paved steps give paved's
// actions input their published schemas accept.
package examples

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/paved-dev/paved/infra"
	"github.com/paved-dev/paved/scaffolder"
)

type noDriver struct{}

func (noDriver) Check(infra.Kind) error { return nil }
func (noDriver) Provision(context.Context, infra.Kind, infra.Resource) (infra.Outcome, error) {
	return infra.Outcome{}, nil
}
func (noDriver) Deprovision(context.Context, infra.Kind, infra.Resource) error { return nil }

type template struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name        string            `yaml:"name"`
		Title       string            `yaml:"title"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	Spec struct {
		Owner      string           `yaml:"owner"`
		Type       string           `yaml:"type"`
		Parameters []map[string]any `yaml:"parameters"`
		Steps      []struct {
			ID     string         `yaml:"id"`
			Action string         `yaml:"action"`
			Input  map[string]any `yaml:"input"`
		} `yaml:"steps"`
		Output struct {
			Links []struct {
				Title     string `yaml:"title"`
				URL       string `yaml:"url"`
				EntityRef string `yaml:"entityRef"`
			} `yaml:"links"`
		} `yaml:"output"`
	} `yaml:"spec"`
}

// paved's published input schemas, by action id.
func actionSchemas(t *testing.T) map[string]*jsonschema.Schema {
	kinds, _, err := infra.LoadKinds("infra-kinds", map[string]infra.Driver{"manifests": noDriver{}, "postgres": noDriver{}})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := scaffolder.NewRegistry(scaffolder.RegistryOptions{PluginID: "paved"})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(scaffolder.AppActions(scaffolder.AppActionsOptions{})...); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(scaffolder.AppSetActions(scaffolder.AppSetActionsOptions{})...); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(scaffolder.InfraActions(scaffolder.InfraActionsOptions{Infra: kindsOnly(kinds)})...); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Actions []struct {
			ID     string `json:"id"`
			Schema struct {
				Input json.RawMessage `json:"input"`
			} `json:"schema"`
		} `json:"actions"`
	}
	if err := json.Unmarshal(reg.ListJSON(), &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]*jsonschema.Schema{}
	for _, a := range list.Actions {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(a.Schema.Input))
		if err != nil {
			t.Fatal(err)
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft7)
		url := "mem://paved/" + strings.ReplaceAll(a.ID, ":", "_") + ".json"
		if err := c.AddResource(url, doc); err != nil {
			t.Fatal(err)
		}
		if out[a.ID], err = c.Compile(url); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// kindsOnly serves the kinds; the test never provisions.
type kindsOnly []infra.Kind

func (k kindsOnly) Kinds() []infra.Kind { return k }
func (kindsOnly) Provision(context.Context, infra.Request) (infra.Resource, bool, error) {
	return infra.Resource{}, false, nil
}
func (kindsOnly) Deprovision(context.Context, string) (infra.Resource, error) {
	return infra.Resource{}, nil
}
func (kindsOnly) FindID(context.Context, string, string) (string, error) { return "", nil }
func (kindsOnly) Cost(infra.Resource) (infra.Cost, bool)                 { return infra.Cost{}, false }

var expr = regexp.MustCompile(`\$\{\{\s*([^}]*?)\s*\}\}`)

// render stands in for the scaffolder's nunjucks: parameters.x becomes the
// sample value, other expressions a plausible string.
func render(v any, params map[string]any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = render(e, params)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = render(e, params)
		}
		return out
	case string:
		if m := expr.FindStringSubmatch(x); m != nil && m[0] == x {
			if name, ok := strings.CutPrefix(m[1], "parameters."); ok {
				return params[name]
			}
			return "template:default/sample"
		}
		return expr.ReplaceAllStringFunc(x, func(s string) string {
			m := expr.FindStringSubmatch(s)
			if name, ok := strings.CutPrefix(m[1], "parameters."); ok {
				return toString(params[name])
			}
			return "x"
		})
	}
	return v
}

func toString(v any) string {
	b, _ := json.Marshal(v)
	return strings.Trim(string(b), `"`)
}

func TestTemplates(t *testing.T) {
	schemas := actionSchemas(t)
	samples := map[string]map[string]any{
		"paved-new-service": {"name": "payments", "owner": "group:default/payments", "repoUrl": "https://git.example.test/payments.git", "path": "deploy", "revision": "main"},
		"paved-new-postgresql-database": {"name": "orders", "owner": "group:default/payments", "size": "medium", "region": "eu-west-1",
			"ttl": "", "entity": ""},
		"paved-service-environments": {"name": "payments", "owner": "group:default/payments", "repoUrl": "https://git.example.test/payments.git",
			"revision": "main", "prodServer": "https://prod.example.test:6443"},
	}
	files, _ := filepath.Glob(filepath.Join("templates", "*.yaml"))
	if len(files) < 2 {
		t.Fatalf("found %d templates", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var tpl template
			if err := yaml.Unmarshal(raw, &tpl); err != nil {
				t.Fatal(err)
			}
			if tpl.APIVersion != "scaffolder.backstage.io/v1beta3" || tpl.Kind != "Template" || tpl.Spec.Owner == "" || tpl.Spec.Type == "" {
				t.Errorf("not a v1beta3 Template entity: %+v", tpl)
			}
			if tpl.Metadata.Annotations["backstage.io/time-saved"] == "" {
				t.Errorf("no backstage.io/time-saved annotation")
			}
			params, ok := samples[tpl.Metadata.Name]
			if !ok {
				t.Fatalf("no sample parameters for %s", tpl.Metadata.Name)
			}
			paved := 0
			for _, st := range tpl.Spec.Steps {
				if !strings.HasPrefix(st.Action, "paved:") {
					continue
				}
				paved++
				sch, ok := schemas[st.Action]
				if !ok {
					t.Errorf("step %s calls %s, which paved does not serve", st.ID, st.Action)
					continue
				}
				input := render(st.Input, params)
				b, _ := json.Marshal(input)
				doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
				if err := sch.Validate(doc); err != nil {
					t.Errorf("step %s input %s does not match %s's schema: %v", st.ID, b, st.Action, err)
				}
			}
			if paved == 0 {
				t.Errorf("no step calls paved")
			}
			// A link opens in the browser, which carries no Backstage token:
			// it leads to a Backstage page (paved's pages are under /paved),
			// never to paved's API, which would answer 401.
			for _, l := range tpl.Spec.Output.Links {
				if l.EntityRef == "" && !strings.HasPrefix(l.URL, "/") && !strings.HasPrefix(l.URL, "${{ steps.") {
					t.Errorf("link %q: %q is neither a Backstage page nor a step output", l.Title, l.URL)
				}
				if strings.Contains(l.URL, "connectionUrl") || strings.Contains(l.URL, "/api/paved/") {
					t.Errorf("link %q points to paved's API (%s): the browser sends no token; link /paved/resources/<id>", l.Title, l.URL)
				}
			}
		})
	}
}
