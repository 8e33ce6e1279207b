package manifests

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"gopkg.in/yaml.v3"

	"github.com/paved-dev/paved"
)

// A parameter value (and every other caller-chosen text a template sees) is a
// scalar: it compares and measures as its text (eq, len, if), but prints as a
// marker. The rendered YAML is parsed with the markers in it, so they can only
// sit inside scalars (or comments); each is then replaced by its text on the
// node tree and the tree is encoded again. A value thus becomes one YAML
// string whatever the template author wrote around it (`{{ .Params.note }}`,
// quoted or not, in a key, in a block scalar): never a new key, list item or
// document.
type scalar string

// The markers carry a random part chosen at start, so that no caller can
// write text that reads as a marker (through quote or json, which print a
// value's text).
var (
	markNonce = rand.Text()[:12]
	markOpen  = "pavedvalue" + markNonce + "0x"
	markClose = "x0" + markNonce + "valuepaved"
	markRE    = regexp.MustCompile(markOpen + "([0-9a-f]*)" + markClose)
)

// String is what text/template prints for a scalar.
func (s scalar) String() string { return markOpen + hex.EncodeToString([]byte(s)) + markClose }

// taint turns every string in v into a scalar.
func taint(v any) any {
	switch v := v.(type) {
	case string:
		return scalar(v)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = taint(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = taint(x)
		}
		return out
	}
	return v
}

// plain is the text of a template value, scalar or not.
func plain(v any) string {
	switch v := v.(type) {
	case scalar:
		return string(v)
	case string:
		// Text printf made of a scalar holds its marker.
		s, _ := unmark(v)
		return s
	case nil:
		return ""
	}
	return fmt.Sprint(untaint(v))
}

// untaint is v with its scalars back to strings, for json.
func untaint(v any) any {
	switch v := v.(type) {
	case scalar:
		return string(v)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = untaint(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = untaint(x)
		}
		return out
	}
	return v
}

// keep returns s as a scalar when any of from is one, so text derived from a
// caller's value stays a caller's value.
func keep(s string, from ...any) any {
	for _, f := range from {
		switch f := f.(type) {
		case scalar:
			return scalar(s)
		case string:
			if strings.Contains(f, markOpen) {
				return scalar(s)
			}
		}
	}
	return s
}

// Functions a template may use. quote and json write a value as a YAML-safe
// scalar or flow value; the others keep a caller's text a caller's text.
var templateFuncs = template.FuncMap{
	"quote": func(v any) (string, error) {
		b, err := json.Marshal(plain(v))
		return string(b), err
	},
	"json": func(v any) (string, error) {
		b, err := json.Marshal(untaint(v))
		return string(b), err
	},
	"default": func(def, v any) any {
		if v == nil || plain(v) == "" {
			return def
		}
		return v
	},
	"lower": func(v any) any { return keep(strings.ToLower(plain(v)), v) },
	"upper": func(v any) any { return keep(strings.ToUpper(plain(v)), v) },
	"replace": func(old, new, s any) any {
		return keep(strings.ReplaceAll(plain(s), plain(old), plain(new)), old, new, s)
	},
	// text/template's escapers would escape the marker, not the value.
	"html":     escaper(template.HTMLEscapeString),
	"js":       escaper(template.JSEscapeString),
	"urlquery": escaper(url.QueryEscape),
}

// escaper is a text/template escaper (which prints its arguments as print
// does) that escapes the caller's text and keeps it a caller's value.
func escaper(escape func(string) string) func(...any) any {
	return func(args ...any) any {
		texts := make([]any, len(args))
		for i, a := range args {
			texts[i] = plain(a)
		}
		return keep(escape(fmt.Sprint(texts...)), args...)
	}
}

// unmark replaces the markers in s by their text, and returns the texts.
func unmark(s string) (string, []string) {
	if !strings.Contains(s, markOpen) {
		return s, nil
	}
	var values []string
	out := markRE.ReplaceAllStringFunc(s, func(m string) string {
		b, err := hex.DecodeString(markRE.FindStringSubmatch(m)[1])
		if err != nil {
			return m
		}
		values = append(values, string(b))
		return string(b)
	})
	return out, values
}

// inputs are the caller's texts a template sees, by the field that carries
// them ("parameters.size", "name", "owner", "entityRef").
type inputs map[string]string

// field names the input a value came from: the one equal to it, else the
// longest one it contains, else "parameters".
func (in inputs) field(values ...string) string {
	names := make([]string, 0, len(in))
	for k := range in {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, v := range values {
		for _, k := range names {
			if in[k] == v {
				return k
			}
		}
	}
	best, bestLen := "parameters", 0
	for _, v := range values {
		for _, k := range names {
			if s := in[k]; s != "" && len(s) > bestLen && strings.Contains(v, s) {
				best, bestLen = k, len(s)
			}
		}
	}
	return best
}

// flatten lists the string parameters by field, nested ones dotted.
func flatten(prefix string, v any, in inputs) {
	switch v := v.(type) {
	case string:
		in[prefix] = v
	case map[string]any:
		for k, x := range v {
			flatten(prefix+"."+k, x, in)
		}
	case []any:
		for i, x := range v {
			flatten(fmt.Sprintf("%s.%d", prefix, i), x, in)
		}
	}
}

// renderYAML executes tpl and rebuilds its YAML with every caller's value a
// string scalar. It checks that documents' apiVersion and kind come from the
// template, and that a caller's value used as metadata.name or
// metadata.namespace is a valid Kubernetes name.
func renderYAML(tpl *template.Template, data any, in inputs) ([]byte, error) {
	var buf bytes.Buffer
	if err := tpl.Execute(&buf, data); err != nil {
		return nil, execError(err)
	}
	dec := yaml.NewDecoder(&buf)
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, paved.InvalidFields(paved.FieldError{Field: "parameters",
				Message: "the kind's template does not render to valid YAML with these parameters: " + err.Error()})
		}
		tainted := map[*yaml.Node][]string{}
		if err := substitute(&doc, tainted, in); err != nil {
			return nil, err
		}
		if err := checkDocument(&doc, tainted, in); err != nil {
			return nil, err
		}
		if err := enc.Encode(&doc); err != nil {
			return nil, err
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// substitute replaces the markers in n's scalars and comments, and records
// the scalars that hold a caller's text.
func substitute(n *yaml.Node, tainted map[*yaml.Node][]string, in inputs) error {
	if _, vs := unmark(n.Tag + n.Anchor); vs != nil {
		return paved.InvalidFields(paved.FieldError{Field: in.field(vs...), Message: "is used as a YAML tag or anchor by the kind's template"})
	}
	for _, c := range []*string{&n.HeadComment, &n.LineComment, &n.FootComment} {
		if v, vs := unmark(*c); vs != nil {
			// One comment line: a value's line breaks would end it.
			*c = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
		}
	}
	if n.Kind == yaml.ScalarNode {
		if v, vs := unmark(n.Value); vs != nil {
			n.Value, n.Tag = v, "!!str"
			switch n.Style {
			case yaml.TaggedStyle:
				n.Style = 0
			case yaml.FoldedStyle:
				// Folding would change the value's own line breaks.
				n.Style = yaml.LiteralStyle
			}
			tainted[n] = vs
		}
	}
	for _, c := range n.Content {
		if err := substitute(c, tainted, in); err != nil {
			return err
		}
	}
	return nil
}

// checkDocument refuses a document whose apiVersion or kind holds a caller's
// value, or whose metadata.name or metadata.namespace holds one and is not a
// Kubernetes name.
func checkDocument(doc *yaml.Node, tainted map[*yaml.Node][]string, in inputs) error {
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	root := doc.Content[0]
	for _, key := range []string{"apiVersion", "kind"} {
		if v := get(root, key); v != nil && tainted[v] != nil {
			return paved.InvalidFields(paved.FieldError{Field: in.field(tainted[v]...), Message: "must not choose a manifest's " + key})
		}
	}
	meta := get(root, "metadata")
	if meta == nil {
		return nil
	}
	if v := get(meta, "name"); v != nil && tainted[v] != nil && !validSubdomain(v.Value) {
		return paved.InvalidFields(paved.FieldError{Field: in.field(tainted[v]...), Message: "becomes a Kubernetes name: at most 253 lower-case letters, digits, '-' and '.', starting and ending with a letter or digit"})
	}
	if v := get(meta, "namespace"); v != nil && tainted[v] != nil {
		return checkNamespace(in.field(tainted[v]...), v.Value, "")
	}
	return nil
}

func get(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

var (
	dnsLabelRE     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dnsSubdomainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

func validSubdomain(s string) bool { return len(s) <= 253 && dnsSubdomainRE.MatchString(s) }

// checkNamespace refuses a namespace that is not a DNS label, is one of
// Kubernetes' own, or is Argo CD's (argocdNS).
func checkNamespace(field, ns, argocdNS string) error {
	switch {
	case len(ns) > 63 || !dnsLabelRE.MatchString(ns):
		return paved.InvalidFields(paved.FieldError{Field: field, Message: "becomes a Kubernetes namespace: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit"})
	case ns == "default" || strings.HasPrefix(ns, "kube-") || (argocdNS != "" && ns == argocdNS):
		return paved.InvalidFields(paved.FieldError{Field: field, Message: fmt.Sprintf("becomes the namespace %q, which is Kubernetes' or Argo CD's own", ns)})
	}
	return nil
}

var missingKeyRE = regexp.MustCompile(`map has no entry for key "([^"]*)"`)

// execError turns a template that cannot render for this input into a 400
// naming the parameter (a missing optional one, most often).
func execError(err error) error {
	if m := missingKeyRE.FindStringSubmatch(err.Error()); m != nil {
		return paved.InvalidFields(paved.FieldError{Field: "parameters." + m[1], Message: "is required by the kind's template"})
	}
	msg, _ := unmark(err.Error())
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return paved.InvalidFields(paved.FieldError{Field: "parameters", Message: "the kind's template cannot render these parameters: " + msg})
}
