package scaffolder_test

import (
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"

	"github.com/paved-dev/paved/scaffolder"
	"github.com/paved-dev/paved/sqlstore/sqlite"
)

// TestConcurrentIdenticalCreatesReportCreatedOnce: Argo CD answers an
// identical create like a fresh one, so of concurrent identical calls only
// the store's lock keeps all but one from reporting created. cmd/paved's
// two-replica test runs the same over two processes on PostgreSQL.
func TestConcurrentIdenticalCreatesReportCreatedOnce(t *testing.T) {
	_, client := newFakeArgoCD(t)
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "paved.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	reg, err := scaffolder.NewRegistry(scaffolder.RegistryOptions{PluginID: "paved"})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(scaffolder.AppActions(scaffolder.AppActionsOptions{Apps: client, Locks: store})...); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(scaffolder.AppSetActions(scaffolder.AppSetActionsOptions{AppSets: client, Locks: store})...); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ action, input string }{
		{"paved:create-argocd-app", `{"name":"web","source":{"repoURL":"https://git.example.com/deploy.git","path":"web"},"destination":{"namespace":"web"}}`},
		{"paved:create-argocd-appset", `{"name":"shop","repoURL":"https://git.example.com/deploy.git","path":"shop/{{.environment}}",
		  "environments":[{"name":"dev","namespace":"shop-dev"},{"name":"prod","namespace":"shop-prod"}]}`},
	} {
		var mu sync.Mutex
		answers := map[string]int{}
		var wg sync.WaitGroup
		for range 12 {
			wg.Go(func() {
				out, err := reg.Invoke(jane(), tc.action, json.RawMessage(tc.input), nil)
				key := "error"
				if err == nil {
					key = "created " + jsonString(out["created"])
				}
				mu.Lock()
				answers[key]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if answers["created true"] != 1 || answers["created false"] != 11 {
			t.Errorf("%s ×12 at once: %v, want one created and eleven found", tc.action, answers)
		}
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
