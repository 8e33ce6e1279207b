package manifests_test

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/template"

	"gopkg.in/yaml.v3"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/argocd"
	"github.com/paved-dev/paved/infra"
	"github.com/paved-dev/paved/infra/manifests"
)

// hostileKind puts caller values everywhere a template author might: raw,
// quoted, in a key, in a block scalar, through every template function, as
// a name, a namespace, labels and annotations, and the Application's namespace.
const hostileKind = `
name: hostile
title: Hostile
owner: group:default/platform
driver: manifests
parameters:
  type: object
  properties:
    note: {type: string}
    team: {type: string}
    ns: {type: string}
    count: {type: integer}
    flag: {type: boolean}
    tags: {type: array, items: {type: string}}
    extra: {type: object, additionalProperties: {type: string}}
    size: {type: string, enum: [small, large]}
    ratio: {type: number}
template:
  application:
    destination:
      namespace: "{{ .Params.ns }}"
  files:
    - path: cm.yaml
      content: |
        # for {{ .Params.note }}
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ .Name }}-cm
          namespace: {{ .Params.ns }}
          labels:
            team: {{ .Params.team }}
          annotations:
            owner: {{ .Owner }}
            entity: "{{ .EntityRef }}"
            raw: {{ .Params.note }}
            dq: "{{ .Params.note }}"
            sq: '{{ .Params.note }}'
            quote: {{ quote .Params.note }}
            json: {{ json .Params.note }}
            lower: {{ lower .Params.note }}
            upper: {{ upper .Params.note }}
            replace: {{ replace "o" "0" .Params.note }}
            default: {{ default "none" .Params.note }}
            printf: {{ printf "%s/%s" .Params.team .Params.note }}
            nested: {{ upper (printf "%s" .Params.note) }}
            {{ .Params.team }}: key
            size: {{ if eq .Params.team "gold" }}big{{ else }}small{{ end }}
            html: {{ html .Params.note }}
            js: {{ js .Params.note }}
            urlquery: {{ urlquery .Params.note }}
            print: {{ print .Params.note }}
            println: {{ println .Params.note }}
            slice: "{{ if .Params.note }}{{ slice .Params.note 0 1 }}{{ end }}"
            len: "{{ len .Params.note }}"
            index: {{ index .Params.extra "k" }}
            enum: {{ .Params.size }}
            ratio: "{{ .Params.ratio }}"
            set: {{ if and .Params.flag (not (eq .Params.note "")) }}yes{{ else }}no{{ end }}
        data:
          block: |
            {{ .Params.note }}
          folded: >
            {{ .Params.note }}
          count: "{{ .Params.count }}"
          flag: "{{ .Params.flag }}"
          tags: {{ json .Params.tags }}
          first: {{ index .Params.tags 0 }}
          extra: {{ .Params.extra.k }}
    - path: multi.yaml
      content: |
        apiVersion: v1
        kind: Service
        metadata:
          name: {{ .Name }}
          labels: {app: {{ .Params.note }}, team: "{{ .Params.team }}"}
        spec:
          ports: [{port: 80, name: {{ .Params.note }}}, {port: 443, name: '{{ lower .Params.note }}'}]
        ---
        apiVersion: v1
        kind: ServiceAccount
        metadata:
          name: {{ .Name }}-sa
          annotations:
            note: |-
              {{ .Params.note }}
            first: >-
              {{ .Params.note }} and {{ .Params.team }}
        {{- range .Params.tags }}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ $.Name }}-tag
          annotations: {tag: {{ . }}}
        {{- end }}
`

var hostileValues = []string{
	"ok\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: stolen\nstringData:\n  password: x",
	"ok\n  injected: true",
	"ok\ninjected: true",
	"x: y",
	"- item",
	"{a: b}",
	"[1, 2]",
	"&anchor x",
	"*alias",
	"!!binary aGk=",
	"# comment",
	"'single",
	`"double`,
	"|",
	"> folded",
	"key: |\n  block",
	"]}",
	"tab\there",
	"true",
	"null",
	"12",
	"...",
	"---",
	"%YAML 1.1",
	"@at `back`",
	"trailing space ",
	" leading",
	"pavedvalue0x41x0valuepaved", // paved's own marker, as data
	"{{ .Params.note }}",
	"line\r\nbreak\u2028sep",
}

func hostileDriver(t *testing.T) (*manifests.Driver, infra.Kind) {
	t.Helper()
	d := manifests.New(manifests.Options{Render: argocd.Manifests{}, RepoURL: "https://git.example.test/deploy.git"})
	k, err := infra.ParseKind([]byte(hostileKind), map[string]infra.Driver{"manifests": d})
	if err != nil {
		t.Fatal(err)
	}
	return d, k
}

func hostileResource(note string) infra.Resource {
	return infra.Resource{ID: "res-1", Kind: "hostile", Name: "orders", Owner: "group:default/team-a", EntityRef: "component:default/orders",
		Parameters: map[string]any{"note": note, "team": note, "ns": "orders", "count": float64(3), "flag": true,
			"tags": []any{note, "b"}, "extra": map[string]any{"k": note}, "size": note, "ratio": 0.5}}
}

// TestParameterValuesNeverBecomeYAML: whatever a value holds, the rendered
// file is one ConfigMap whose fields hold the value (or what the template
// function made of it) as a string, with exactly the keys the template has.
func TestParameterValuesNeverBecomeYAML(t *testing.T) {
	d, k := hostileDriver(t)
	for _, v := range hostileValues {
		t.Run(fmt.Sprintf("%q", v), func(t *testing.T) {
			files, ns, err := d.Render(k, hostileResource(v))
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if ns != "orders" {
				t.Errorf("namespace %q", ns)
			}
			dec := yaml.NewDecoder(strings.NewReader(string(files["cm.yaml"])))
			var docs []map[string]any
			for {
				var m map[string]any
				if err := dec.Decode(&m); err != nil {
					break
				}
				docs = append(docs, m)
			}
			if len(docs) != 1 || docs[0]["kind"] != "ConfigMap" {
				t.Fatalf("rendered %d documents, want one ConfigMap:\n%s", len(docs), files["cm.yaml"])
			}
			meta := docs[0]["metadata"].(map[string]any)
			ann := meta["annotations"].(map[string]any)
			want := map[string]any{
				"owner": "group:default/team-a", "entity": "component:default/orders",
				"raw": v, "dq": v, "sq": v, "quote": v, "json": v,
				"lower": strings.ToLower(v), "upper": strings.ToUpper(v), "replace": strings.ReplaceAll(v, "o", "0"),
				"default": v, "printf": v + "/" + v, "nested": strings.ToUpper(v), v: "key", "size": "small",
				"html": template.HTMLEscapeString(v), "js": template.JSEscapeString(v), "urlquery": url.QueryEscape(v),
				"print": v, "println": v, "slice": v[:1], "len": strconv.Itoa(len(v)), "index": v, "enum": v,
				"ratio": "0.5", "set": "yes",
			}
			if len(ann) != len(want) {
				t.Errorf("annotations have %d keys, want %d:\n%s", len(ann), len(want), files["cm.yaml"])
			}
			for key, w := range want {
				if ann[key] != w {
					t.Errorf("annotation %q = %#v, want %#v", key, ann[key], w)
				}
			}
			if got := meta["labels"].(map[string]any)["team"]; got != v || len(meta) != 4 {
				t.Errorf("labels.team = %#v (metadata %v)", got, meta)
			}
			data := docs[0]["data"].(map[string]any)
			if len(data) != 7 || data["block"] != v+"\n" || data["folded"] != v+"\n" || data["first"] != v || data["extra"] != v || data["count"] != "3" || data["flag"] != "true" {
				t.Errorf("data = %#v\n%s", data, files["cm.yaml"])
			}
			if tags, _ := data["tags"].([]any); len(tags) != 2 || tags[0] != v {
				t.Errorf("tags = %#v", data["tags"])
			}
		})
	}
}

// TestNamesAndNamespacesFromValuesAreChecked: a value that becomes a
// namespace or a name must be one; Kubernetes' and Argo CD's namespaces are
// refused; a template that cannot render a value is a 400 naming it.
func TestNamesAndNamespacesFromValuesAreChecked(t *testing.T) {
	d, k := hostileDriver(t)
	tests := []struct {
		name  string
		edit  func(r *infra.Resource)
		field string
	}{
		{"namespace path", func(r *infra.Resource) { r.Parameters["ns"] = "../../etc" }, "parameters.ns"},
		{"namespace kube-system", func(r *infra.Resource) { r.Parameters["ns"] = "kube-system" }, "parameters.ns"},
		{"namespace argocd", func(r *infra.Resource) { r.Parameters["ns"] = "argocd" }, "parameters.ns"},
		{"namespace multi-line", func(r *infra.Resource) { r.Parameters["ns"] = "orders\nkind: Secret" }, "parameters.ns"},
		{"namespace upper case", func(r *infra.Resource) { r.Parameters["ns"] = "Orders" }, "parameters.ns"},
		{"namespace too long", func(r *infra.Resource) { r.Parameters["ns"] = strings.Repeat("a", 64) }, "parameters.ns"},
		{"name", func(r *infra.Resource) { r.Name = "a b" }, "name"},
		{"missing parameter", func(r *infra.Resource) { delete(r.Parameters, "extra") }, "parameters.extra"},
		{"missing optional parameter", func(r *infra.Resource) { delete(r.Parameters, "note") }, "parameters.note"},
		{"index out of range", func(r *infra.Resource) { r.Parameters["tags"] = []any{} }, "parameters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := hostileResource("ok")
			tt.edit(&r)
			_, _, err := d.Render(k, r)
			var pe *paved.Error
			if !errors.As(err, &pe) || pe.Code != paved.EInvalid {
				t.Fatalf("Render = %v, want a 400", err)
			}
			if len(pe.Fields) != 1 || pe.Fields[0].Field != tt.field {
				t.Fatalf("Render = %v (fields %v), want the field %s", err, pe.Fields, tt.field)
			}
		})
	}
}

// TestRenderedDocumentsAreTheTemplates: whatever the values, every file
// renders to the documents, kinds and shape (every mapping's keys, every
// list's length, every scalar's type) it has with empty values; a value is
// never more than one string. Names, namespaces and the enum keep values the
// other checks accept, so that every value reaches the output.
func TestRenderedDocumentsAreTheTemplates(t *testing.T) {
	d, k := hostileDriver(t)
	base, _, err := d.Render(k, hostileResource(""))
	if err != nil {
		t.Fatalf("Render with empty values: %v", err)
	}
	want := map[string][]string{}
	for f, b := range base {
		want[f] = shapes(t, b, "")
	}
	if n := len(want["multi.yaml"]); n != 4 {
		t.Fatalf("multi.yaml renders %d documents with empty values, want 4", n)
	}
	for _, v := range hostileValues {
		files, _, err := d.Render(k, hostileResource(v))
		if err != nil {
			t.Errorf("Render %q: %v", v, err)
			continue
		}
		for f, b := range files {
			if got := shapes(t, b, v); !slices.Equal(got, want[f]) {
				t.Errorf("value %q: %s has the shape\n%s\nwant (empty values)\n%s\nrendered:\n%s", v, f, strings.Join(got, "\n"), strings.Join(want[f], "\n"), b)
			}
		}
	}
}

// shapes describes each YAML document of b: apiVersion and kind, then its
// node tree with keys as written by the template (the key that is the value
// v shows as <value>) and scalars as their type.
func shapes(t *testing.T, b []byte, v string) []string {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	var out []string
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			break
		}
		var head struct{ APIVersion, Kind string }
		if err := doc.Decode(&head); err != nil {
			t.Fatal(err)
		}
		out = append(out, head.APIVersion+" "+head.Kind+" "+shape(&doc, v))
	}
	return out
}

func shape(n *yaml.Node, v string) string {
	switch n.Kind {
	case yaml.DocumentNode:
		return shape(n.Content[0], v)
	case yaml.MappingNode:
		parts := make([]string, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if key == v {
				key = "<value>"
			}
			parts = append(parts, key+"="+shape(n.Content[i+1], v))
		}
		return "{" + strings.Join(parts, ",") + "}"
	case yaml.SequenceNode:
		parts := make([]string, len(n.Content))
		for i, c := range n.Content {
			parts[i] = shape(c, v)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case yaml.AliasNode:
		return "*alias"
	}
	return n.Tag
}
