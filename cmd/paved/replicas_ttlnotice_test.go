package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/paved-dev/paved/devex/devextest"
)

// TestReplicasTTLNotices: with infra.ttlNotice set, the owner of a resource
// whose TTL ends within it gets one notification through Backstage's
// notifications plugin, linking to the resource's page, though both
// replicas sweep; the reaper's teardown sends one more.
func TestReplicasTTLNotices(t *testing.T) {
	p := startPair(t, replicaOptions{
		devexOff: true,
		seed:     func(bs *devextest.Backstage) { bs.AddUser("user:default/jane", "group:default/payments") },
		// Continues the infra block, which startPair's configuration ends with.
		config: `  ttlNotice: 72h
approvals:
  appUrl: https://backstage.example.com
`,
	})
	jane := p.users.Mint(t, "user:default/jane")
	a := p.a.callAs(t, jane, http.MethodPost, "/api/paved/.backstage/actions/v1/actions/paved:provision-infra/invoke",
		`{"kind":"s3-bucket","name":"scratch","owner":"group:default/payments","parameters":{"region":"eu-west-1"},"ttl":"2h"}`)
	if a.status != http.StatusOK {
		t.Fatalf("provision through a: %d %s", a.status, a.body)
	}
	id, _ := a.output(t)["id"].(string)

	payloads := func() []map[string]any {
		var out []map[string]any
		for _, n := range p.backstage.Notifications() {
			pl, _ := n["payload"].(map[string]any)
			if pl["topic"] == "paved-infra-ttl" {
				out = append(out, n)
			}
		}
		return out
	}
	eventually(t, 30*time.Second, "the expiring notice reaches the notifications plugin", func() (bool, string) {
		return len(payloads()) > 0, fmt.Sprint(p.backstage.Notifications())
	})
	// Both replicas sweep every second: a few more rounds send nothing more.
	time.Sleep(3 * time.Second)
	got := payloads()
	if len(got) != 1 {
		t.Fatalf("%d TTL notifications, want 1: %v", len(got), got)
	}
	pl := got[0]["payload"].(map[string]any)
	rc := got[0]["recipients"].(map[string]any)
	if pl["title"] != "Expiring: s3-bucket scratch" || pl["link"] != "https://backstage.example.com/paved/resources/"+id ||
		fmt.Sprint(rc["entityRef"]) != "[group:default/payments]" || rc["type"] != "entity" {
		t.Errorf("expiring notification = %v", got[0])
	}
	for _, c := range p.gateway.calls("/api/notifications/") {
		if c.err != nil {
			t.Errorf("a notification's token was refused: %v", c.err)
		}
	}

	// The TTL ends: the reaper tears it down and the owner hears once more.
	if _, err := p.db.Exec(`UPDATE infra_resources SET expires_at = now() - interval '1 second' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the torn-down notice", func() (bool, string) {
		return len(payloads()) > 1, fmt.Sprint(payloads())
	})
	time.Sleep(3 * time.Second)
	got = payloads()
	if len(got) != 2 || got[1]["payload"].(map[string]any)["title"] != "Torn down: s3-bucket scratch" {
		t.Errorf("after the reap: %v, want the expiring and one torn-down notification", got)
	}
}
