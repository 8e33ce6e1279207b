package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/argocd"
	"github.com/paved-dev/paved/argocd/argocdtest"
)

// TestServeCatalogWatch: with an hour between polls, an application created
// in Argo CD by someone else reaches entities.yaml through the watch stream.
func TestServeCatalogWatch(t *testing.T) {
	fake := fakeArgoCD(t)
	p := startPaved(t, argoConfig(fake.Addr())+"catalog:\n  interval: 1h\n  watchDebounce: 50ms\n  publicYaml: true\n",
		map[string]string{"ARGO_PASSWORD": "argo-pass-123"})
	// Two streams: the catalog's, and the four keys' (devex).
	for deadline := time.Now().Add(20 * time.Second); fake.Watches() != 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("paved opened no watch stream; stderr:\n%s", p.stderr.String())
		}
	}
	client, err := argocd.New([]argocd.InstanceConfig{{Name: "default", Server: fake.Addr(), PlainText: true,
		Username: "admin", Password: "argo-pass-123", DefaultProject: "default", Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	_, err = client.CreateApp(context.Background(), paved.AppRequest{
		AppRef:      paved.AppRef{Instance: "default", Name: "watched"},
		Sources:     []paved.AppSource{{RepoURL: "https://git.example.com/deploy.git", Path: "watched"}},
		Destination: paved.AppDestination{Server: argocdtest.InClusterServer, Namespace: "watched"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var body string
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(body, `"argocd/app-name":"watched"`); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the app never showed up in entities.yaml; last body:\n%s\nstderr:\n%s", body, p.stderr.String())
		}
		resp, err := http.Get(p.base + "/api/paved/catalog/entities.yaml")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
	}
}
