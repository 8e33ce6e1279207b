package scaffolder_test

import (
	"testing"
	"time"

	"github.com/paved-dev/paved/argocd"
	"github.com/paved-dev/paved/argocd/argocdtest"
)

// newFakeArgoCD starts the in-process Argo CD API server and returns it with
// a client of one instance, "prod", that talks to it; both stop with t.
func newFakeArgoCD(t *testing.T) (*argocdtest.Server, *argocd.Client) {
	t.Helper()
	srv, err := argocdtest.NewServer(argocdtest.Options{APITokens: []string{"argo-token"}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	client, err := argocd.New([]argocd.InstanceConfig{{Name: "prod", Server: srv.Addr(), Token: "argo-token", PlainText: true, DefaultProject: "default", Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return srv, client
}
