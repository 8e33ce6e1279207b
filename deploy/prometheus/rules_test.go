// Package prometheus validates the Prometheus rules paved ships, in
// paved-slo-rules.yaml and in the Helm chart's PrometheusRule, with
// Prometheus' own rule parser. It is a module of its own so that Prometheus'
// dependency tree stays out of paved's.
package prometheus

import (
	"bytes"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

// The windows and conditions of the SRE workbook's multi-window,
// multi-burn-rate alerts (devex.BurnWindows and devex.BurnAlerts in paved).
var (
	windows = []string{"5m", "30m", "1h", "2h", "6h", "1d", "3d"}
	slis    = []string{"run_errors", "time_to_healthy_errors", "action_errors"}
	// long window, short window, factor
	conditions = [][3]string{{"1h", "5m", "14.4"}, {"6h", "30m", "6"}, {"1d", "2h", "3"}, {"3d", "6h", "1"}}
)

// exported are the metrics paved's /metrics serves that the rules may read.
var exported = []string{
	"devex_template_run_completed_total", "devex_action_invocations_total",
	"devex_app_time_to_healthy_seconds_bucket", "devex_app_time_to_healthy_seconds_count",
	"devex_slo_error_budget_remaining_ratio", "devex_template_run_stuck", "up",
	"kube_deployment_status_replicas_available", "kube_deployment_spec_replicas",
}

var promql = parser.NewParser(parser.Options{})

// parseRules parses rule groups as Prometheus loads them, failing on any error.
func parseRules(t *testing.T, name string, content []byte) *rulefmt.RuleGroups {
	t.Helper()
	groups, errs := rulefmt.Parse(content, false, model.UTF8Validation, promql, slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Errorf("%s: %v", name, err)
	}
	if groups == nil {
		t.Fatalf("%s: no rule groups", name)
	}
	return groups
}

// checkSLORules checks the recording rules cover every indicator and window,
// every alert reads only what is recorded or exported, and each burn-rate
// alert holds the workbook's conditions against objective (a PromQL number
// or expression as written in the rules).
func checkSLORules(t *testing.T, name string, groups *rulefmt.RuleGroups, objectives map[string]string) {
	t.Helper()
	recorded := map[string]bool{}
	var alerts []rulefmt.Rule
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				recorded[r.Record] = true
			} else {
				alerts = append(alerts, r)
			}
		}
	}
	for _, sli := range slis {
		for _, w := range windows {
			if rec := "paved:" + sli + ":ratio_rate" + w; !recorded[rec] {
				t.Errorf("%s: no recording rule %s", name, rec)
			}
		}
	}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			expr, err := promql.ParseExpr(r.Expr)
			if err != nil {
				t.Errorf("%s: %s%s: %v", name, r.Record, r.Alert, err)
				continue
			}
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				if vs, ok := n.(*parser.VectorSelector); ok && !recorded[vs.Name] && !slices.Contains(exported, vs.Name) {
					t.Errorf("%s: %s%s reads %s, which is neither recorded nor exported by paved", name, r.Record, r.Alert, vs.Name)
				}
				return nil
			})
		}
	}
	burn := 0
	for _, a := range alerts {
		sli := ""
		for _, s := range slis {
			if strings.Contains(a.Expr, "paved:"+s+":") {
				sli = s
			}
		}
		if sli == "" {
			continue
		}
		burn++
		objective := objectives[sli]
		severity := a.Labels["severity"]
		conds := conditions[2:]
		if severity == "critical" {
			conds = conditions[:2]
		} else if severity != "warning" {
			t.Errorf("%s: %s has severity %q, want critical (page) or warning (ticket)", name, a.Alert, severity)
		}
		for _, c := range conds {
			for _, w := range c[:2] {
				want := "paved:" + sli + ":ratio_rate" + w + " > " + c[2] + " * (1 - " + objective + ")"
				if !strings.Contains(a.Expr, want) {
					t.Errorf("%s: %s lacks %q:\n%s", name, a.Alert, want, a.Expr)
				}
			}
		}
		if a.Labels["slo"] == "" || a.Annotations["summary"] == "" {
			t.Errorf("%s: %s needs an slo label and a summary", name, a.Alert)
		}
	}
	if burn != 2*len(slis) {
		t.Errorf("%s: %d burn-rate alerts, want a page and a ticket for each of %d indicators", name, burn, len(slis))
	}
}

var defaults = map[string]string{"run_errors": "0.95", "time_to_healthy_errors": "0.95", "action_errors": "0.995"}

func TestRulesFile(t *testing.T) {
	content, err := os.ReadFile("paved-slo-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	groups := parseRules(t, "paved-slo-rules.yaml", content)
	checkSLORules(t, "paved-slo-rules.yaml", groups, defaults)
}

// helm finds the helm command: the e2e suite's cached one, else PATH.
func helm(t *testing.T) string {
	dir := os.Getenv("PAVED_E2E_BIN_CACHE")
	if dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".cache", "paved-e2e", "bin")
		}
	}
	if found, _ := filepath.Glob(filepath.Join(dir, "helm-*", "helm")); len(found) > 0 {
		return found[len(found)-1]
	}
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	t.Skip("no helm command (the e2e stack's build caches one: make e2e runs this test again after it; or put helm on PATH)")
	return ""
}

// TestHelmPrometheusRule renders the chart's PrometheusRule and parses its
// spec as the Prometheus operator hands it to Prometheus: the same rules as
// the file, with the release's selectors and the objectives of the values.
func TestHelmPrometheusRule(t *testing.T) {
	bin := helm(t)
	chart := filepath.Join("..", "helm", "paved")
	render := func(args ...string) *rulefmt.RuleGroups {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"template", "paved", chart, "--namespace", "platform",
			"--set", "metrics.prometheusRule.enabled=true", "--show-only", "templates/prometheusrule.yaml"}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("helm template: %v\n%s", err, stderr.String())
		}
		var doc struct {
			Kind string
			Spec yaml.Node
		}
		if err := yaml.Unmarshal(out, &doc); err != nil || doc.Kind != "PrometheusRule" {
			t.Fatalf("rendered: %v, kind %q\n%s", err, doc.Kind, out)
		}
		spec, err := yaml.Marshal(&doc.Spec)
		if err != nil {
			t.Fatal(err)
		}
		return parseRules(t, "PrometheusRule", spec)
	}
	groups := render()
	checkSLORules(t, "PrometheusRule", groups, defaults)
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if strings.Contains(r.Expr, "devex_") && !strings.Contains(r.Expr, `namespace="platform"`) {
				t.Errorf("%s%s reads paved's metrics of every namespace:\n%s", r.Record, r.Alert, r.Expr)
			}
		}
	}
	custom := render("--set-json", "metrics.prometheusRule.slo.runSuccess=0.99", "--set", "metrics.prometheusRule.slo.timeToHealthySeconds=300")
	checkSLORules(t, "PrometheusRule with objectives", custom,
		map[string]string{"run_errors": "0.99", "time_to_healthy_errors": "0.95", "action_errors": "0.995"})
	for _, g := range custom.Groups {
		for _, r := range g.Rules {
			if r.Record == "paved:time_to_healthy_errors:ratio_rate1h" && !strings.Contains(r.Expr, `le="300"`) {
				t.Errorf("timeToHealthySeconds 300 not in %s:\n%s", r.Record, r.Expr)
			}
		}
	}
	off := func() int {
		cmd := exec.Command(bin, "template", "paved", chart, "--set", "metrics.prometheusRule.enabled=true",
			"--set", "metrics.prometheusRule.slo.enabled=false", "--show-only", "templates/prometheusrule.yaml")
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(out), "paved:")
	}()
	if off != 0 {
		t.Errorf("slo.enabled=false still renders %d SLO rule references", off)
	}
}
