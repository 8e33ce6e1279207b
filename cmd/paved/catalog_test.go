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

// TestServeCatalog starts paved through run() against argocdtest and reads
// the application back as an entity from the public entities.yaml, the way a
// Backstage `url` location does.
func TestServeCatalog(t *testing.T) {
	fake := fakeArgoCD(t)
	client, err := argocd.New([]argocd.InstanceConfig{{Name: "default", Server: fake.Addr(), PlainText: true,
		Username: "admin", Password: "argo-pass-123", DefaultProject: "default", Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	_, err = client.CreateApp(context.Background(), paved.AppRequest{
		AppRef:      paved.AppRef{Instance: "default", Name: "shop"},
		Sources:     []paved.AppSource{{RepoURL: "https://git.example.com/deploy.git", Path: "shop"}},
		Destination: paved.AppDestination{Server: argocdtest.InClusterServer, Namespace: "shop"},
		Labels:      map[string]string{"paved.dev/owner": "team-shop"},
		Annotations: map[string]string{paved.AnnotationTemplate: "template:default/service"},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := startPaved(t, argoConfig(fake.Addr())+"catalog:\n  publicYaml: true\n", map[string]string{"ARGO_PASSWORD": "argo-pass-123"})

	var body string
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(body, `"argocd/app-name":"shop"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the app never showed up in entities.yaml; last body:\n%s\nstderr:\n%s", body, p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
		resp, err := http.Get(p.base + "/api/paved/catalog/entities.yaml")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("entities.yaml = %d: %s", resp.StatusCode, b)
		}
		body = string(b)
	}
	for _, want := range []string{`"owner":"group:default/team-shop"`, `"backstage.io/source-template":"template:default/service"`,
		`/api/paved/catalog/entities.yaml","backstage.io/managed-by-origin-location":"url:http://`} {
		if !strings.Contains(body, want) {
			t.Errorf("entities.yaml lacks %s:\n%s", want, body)
		}
	}
	resp, err := http.Get(p.base + "/api/paved/catalog/entities")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("the JSON entities answer %d without a token, want 401", resp.StatusCode)
	}
}
