package scaffolder

import (
	"regexp"
	"strings"
	"testing"
)

var goTemplateAction = regexp.MustCompile(`\{\{.*?\}\}`)

// A path or revision the check accepts holds, once normalised, no Go
// template action but the three placeholders: nothing that could fail or
// run code in the ApplicationSet controller.
func FuzzPlaceholders(f *testing.F) {
	for _, s := range []string{"envs/{{.environment}}", "{{environment}}/{{.namespace}}", "{{.server}}", "a{{b}}", "{{.environment", "}}{{",
		"{{ .environment }}", "{{.environment}}}}", "{{{{.environment}}}}", "{{printf \"x\"}}", "{{.environment|upper}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(checkPlaceholders("path", s)) > 0 {
			return
		}
		n := normalizePlaceholders(s)
		rest := n
		for _, p := range []string{"{{.environment}}", "{{.namespace}}", "{{.server}}"} {
			rest = strings.ReplaceAll(rest, p, "")
		}
		if strings.Contains(rest, "{{") || strings.Contains(rest, "}}") {
			t.Fatalf("%q accepted, normalised to %q, keeps template syntax", s, n)
		}
		for _, m := range goTemplateAction.FindAllString(n, -1) {
			if m != "{{.environment}}" && m != "{{.namespace}}" && m != "{{.server}}" {
				t.Fatalf("%q accepted with action %q", s, m)
			}
		}
	})
}
