package config

import (
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
