package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDevExConfig(t *testing.T) {
	c := Default()
	c.fillDerived()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	c.DevEx.Interval = Duration(time.Second)
	c.DevEx.RawRetention = Duration(time.Hour)
	c.DevEx.ReaderGroups = []string{"group:default/platform", "not a group"}
	c.DevEx.BackstageToken = "short"
	err := c.Validate()
	if err == nil {
		t.Fatal("bad devex settings passed validation")
	}
	for _, field := range []string{"devex.interval", "devex.rawRetention", "devex.readerGroups[1]", "devex.backstageToken"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("no problem reported for %s in:\n%v", field, err)
		}
	}
	if strings.Contains(err.Error(), "readerGroups[0]") {
		t.Errorf("a valid group ref was refused:\n%v", err)
	}

	c = Default()
	c.DevEx.BackstageToken = "backstage-static-secret-value"
	if out := c.Masked(); strings.Contains(out, "backstage-static-secret-value") || !strings.Contains(out, "backstageToken: '********'") {
		t.Errorf("Masked() shows the Backstage token or hides the setting:\n%s", out)
	}
}

func TestDevExSLOs(t *testing.T) {
	cfg, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.DevEx.SLOs) != 3 || cfg.DevEx.SLOs[1].Threshold.D() != 10*time.Minute || cfg.DevEx.SLOs[0].Window.D() != DefaultSLOWindow {
		t.Errorf("default SLOs = %+v, want run success, time to healthy within 10m, availability over 30 days", cfg.DevEx.SLOs)
	}

	path := filepath.Join(t.TempDir(), "paved.yaml")
	writeFile(t, path, `
devex:
  slos:
    - name: service-runs
      sli: runSuccess
      template: template:default/service
      objective: 0.99
      window: 168h
`)
	cfg, err = Load(path, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.DevEx.SLOs; len(got) != 1 || got[0].Template != "template:default/service" || got[0].Window.D() != 168*time.Hour {
		t.Errorf("configured SLOs = %+v, want only service-runs over 168h", got)
	}

	writeFile(t, path, `
devex:
  slos:
    - {name: Bad Name, sli: runSuccess, objective: 0.9}
    - {name: tth, sli: timeToHealthy, objective: 1.5}
    - {name: tth, sli: latency, objective: 0.9}
    - {name: avail, sli: availability, objective: 0.9, threshold: 5m, window: 1m, template: "component:default/x"}
`)
	_, err = Load(path, env(nil))
	if err == nil {
		t.Fatal("bad SLOs passed validation")
	}
	for _, field := range []string{"devex.slos[0].name", "devex.slos[1].objective", "devex.slos[1].threshold",
		"devex.slos[2].name", "devex.slos[2].sli", "devex.slos[3].threshold", "devex.slos[3].window", "devex.slos[3].template"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("no problem reported for %s in:\n%v", field, err)
		}
	}
}
