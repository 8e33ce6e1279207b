package server_test

import (
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/paved-dev/paved/devex"
)

// TestDevexSLOs: the objectives' states from seedDevex's runs. Over 30 days
// the service template ran 3 times to the end (t0 is 33 days old), 2
// succeeded; against 90 % the budget allowed 0.3 failures and 1 happened:
// 1 − 1/0.3 = −2.3333.
// Nothing finished in the last day: no burn there.
func TestDevexSLOs(t *testing.T) {
	f := newDevexServer(t)
	r := f.do(t, "GET", "/api/paved/devex/v1/slos", testToken, "")
	if r.status != 200 {
		t.Fatalf("slos: %d %s", r.status, r.raw)
	}
	var body struct {
		Items   []devex.SLOStatus
		Windows []struct {
			Name    string  `json:"name"`
			Seconds float64 `json:"seconds"`
		}
		Alerts []struct {
			Severity string  `json:"severity"`
			Long     string  `json:"long"`
			Short    string  `json:"short"`
			Factor   float64 `json:"factor"`
		}
	}
	if err := json.Unmarshal([]byte(r.raw), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Items) != 2 || len(body.Windows) != len(devex.BurnWindows) || len(body.Alerts) != 4 {
		t.Fatalf("slos = %s, want 2 objectives, %d windows, 4 alert conditions", r.raw, len(devex.BurnWindows))
	}
	if w := body.Windows[2]; w.Name != "1h" || w.Seconds != 3600 {
		t.Errorf("third window = %+v, want 1h of 3600 s", w)
	}
	if a := body.Alerts[0]; a.Severity != "page" || a.Long != "1h" || a.Short != "5m" || a.Factor != 14.4 {
		t.Errorf("first alert condition = %+v, want page on 1h and 5m above 14.4", a)
	}
	runs := body.Items[0]
	if runs.Name != "service-runs" || runs.Current == nil || *runs.Current != 0.6667 || runs.Good != 2 || runs.Total != 3 ||
		runs.BudgetRemaining != -2.3333 || runs.BurnRates["1d"] != 0 || runs.BurnRates["5m"] != 0 || runs.Alert != "" {
		t.Errorf("service-runs = %+v (current %v), want 2 of 3, budget -2.3333, no burn in the last day", runs, runs.Current)
	}
	if avail := body.Items[1]; avail.Current != nil || avail.BudgetRemaining != 1 || avail.Total != 0 {
		t.Errorf("availability without calls = %+v, want no indicator and the whole budget", avail)
	}

	r = f.do(t, "GET", "/api/paved/devex/v1/slos?format=csv", testToken, "")
	rows, err := csv.NewReader(strings.NewReader(r.raw)).ReadAll()
	if r.status != 200 || err != nil || len(rows) != 3 || rows[1][0] != "service-runs" || rows[1][6] != "0.6667" || rows[2][6] != "" {
		t.Errorf("slos as CSV: %d %v %q", r.status, err, rows)
	}
	if r := f.do(t, "GET", "/api/paved/devex/v1/slos?format=xml", testToken, ""); r.status != 400 || !strings.Contains(r.raw, `"format"`) {
		t.Errorf("bad format: %d %s, want a 400 naming format", r.status, r.raw)
	}
	dave := f.users.Mint(t, "user:default/dave")
	if r := f.do(t, "GET", "/api/paved/devex/v1/slos", dave, ""); r.status != 403 {
		t.Errorf("slos as an outsider: %d %s, want 403", r.status, r.raw)
	}
}
