//go:build e2e

package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved/e2e/stack"
)

// startStack starts a stack for one test and stops it at the end, showing the
// Argo CD logs first when the test failed.
func startStack(t *testing.T) *stack.Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{Logf: t.Logf})
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, c := range []string{"argocd-server", "argocd-repo-server", "argocd-application-controller", "kube-controller-manager"} {
				t.Logf("--- end of %s log:\n%s", c, s.Logs(c, 40))
			}
		}
		if err := s.Stop(); err != nil {
			t.Errorf("stop stack: %v", err)
		}
	})
	t.Logf("stack start-up %s", s.Startup.Round(time.Millisecond))
	for _, tm := range s.Timings {
		t.Logf("  %-30s %s", tm.Component, tm.Duration.Round(time.Millisecond))
	}
	return s
}

type appStatus struct {
	Status struct {
		Sync   struct{ Status string } `json:"sync"`
		Health struct{ Status string } `json:"health"`
	} `json:"status"`
}

func getApp(t *testing.T, s *stack.Stack, name string) (int, appStatus) {
	t.Helper()
	code, body, err := s.ArgoREST(http.MethodGet, "/api/v1/applications/"+name+"?project=default", nil)
	if err != nil {
		t.Fatalf("get app %s: %v", name, err)
	}
	var app appStatus
	if code == http.StatusOK {
		if err := json.Unmarshal(body, &app); err != nil {
			t.Fatalf("decode app %s: %v", name, err)
		}
	}
	return code, app
}

// eventually polls cond until it holds; giving up after limit is a failure of
// the behaviour under test (the stack never converged), not a speed check.
func eventually(t *testing.T, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last string
	for time.Now().Before(deadline) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%s: not reached within %s; last: %s", what, limit, last)
}

func TestStack(t *testing.T) {
	s := startStack(t)

	t.Run("auth", func(t *testing.T) {
		code, _, err := s.ArgoRESTAs("", http.MethodGet, "/api/v1/applications", nil)
		if err != nil || code != http.StatusUnauthorized {
			t.Errorf("without token: %d %v, want 401", code, err)
		}
		code, body, err := s.ArgoRESTAs(s.PavedToken, http.MethodGet, "/api/v1/session/userinfo", nil)
		if err != nil || code != http.StatusOK || !strings.Contains(string(body), `"username":"paved"`) {
			t.Errorf("paved API key: %d %s %v, want 200 for user paved", code, body, err)
		}
	})

	cases := []struct {
		repo, path string
		source     map[string]any
		objects    []string // kind/name expected in the destination namespace
		greeting   string   // data.greeting of the ConfigMap, objects[0]
	}{
		{repo: "plain", path: ".", objects: []string{"configmap/plain-config", "deployment/plain-app"},
			greeting: "hello from the plain fixture"},
		{repo: "helm", path: ".", source: map[string]any{"helm": map[string]any{"releaseName": "demo",
			"valuesObject": map[string]any{"greeting": "hello from values"}}},
			objects: []string{"configmap/demo-config", "deployment/demo-app"}, greeting: "hello from values"},
		{repo: "kustomize", path: "overlays/dev", objects: []string{"configmap/dev-kustomize-config", "deployment/dev-kustomize-app"},
			greeting: "hello from the kustomize dev overlay"},
	}
	for _, tc := range cases {
		t.Run(tc.repo, func(t *testing.T) {
			name, ns := "e2e-"+tc.repo, "e2e-"+tc.repo
			source := map[string]any{"repoURL": s.GitURL(tc.repo), "path": tc.path, "targetRevision": "main"}
			for k, v := range tc.source {
				source[k] = v
			}
			app := map[string]any{
				"metadata": map[string]any{"name": name, "namespace": "argocd",
					"finalizers": []string{"resources-finalizer.argocd.argoproj.io"}},
				"spec": map[string]any{
					"project":     "default",
					"source":      source,
					"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": ns},
					"syncPolicy": map[string]any{"automated": map[string]any{"prune": true},
						"syncOptions": []string{"CreateNamespace=true"}},
				},
			}
			began := time.Now()
			code, body, err := s.ArgoRESTAs(s.PavedToken, http.MethodPost, "/api/v1/applications", app)
			if err != nil || code != http.StatusOK {
				t.Fatalf("create app: %d %s %v", code, body, err)
			}
			eventually(t, 3*time.Minute, "Synced and Healthy", func() (bool, string) {
				code, st := getApp(t, s, name)
				got := fmt.Sprintf("%d %s/%s", code, st.Status.Sync.Status, st.Status.Health.Status)
				return st.Status.Sync.Status == "Synced" && st.Status.Health.Status == "Healthy", got
			})
			t.Logf("%s: Synced and Healthy %s after create", name, time.Since(began).Round(time.Millisecond))

			for _, obj := range tc.objects {
				if _, err := s.Kubectl("-n", ns, "get", obj); err != nil {
					t.Errorf("synced object missing: %v", err)
				}
			}
			got, err := s.Kubectl("-n", ns, "get", tc.objects[0], "-o", "jsonpath={.data.greeting}")
			if err != nil || got != tc.greeting {
				t.Errorf("greeting = %q (%v), want %q", got, err, tc.greeting)
			}

			began = time.Now()
			code, body, err = s.ArgoRESTAs(s.PavedToken, http.MethodDelete, "/api/v1/applications/"+name+"?cascade=true", nil)
			if err != nil || code != http.StatusOK {
				t.Fatalf("delete app: %d %s %v", code, body, err)
			}
			eventually(t, 2*time.Minute, "app and objects gone", func() (bool, string) {
				if code, _ := getApp(t, s, name); code != http.StatusNotFound {
					return false, fmt.Sprintf("app answers %d", code)
				}
				for _, obj := range tc.objects {
					out, err := s.Kubectl("-n", ns, "get", obj, "--ignore-not-found", "-o", "name")
					if err != nil || strings.TrimSpace(out) != "" {
						return false, fmt.Sprintf("%s still there (%v)", obj, err)
					}
				}
				return true, ""
			})
			t.Logf("%s: cascade delete done in %s", name, time.Since(began).Round(time.Millisecond))
		})
	}

	t.Run("restart argocd-server", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		began := time.Now()
		if err := s.RestartArgoCDServer(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("argocd-server restarted in %s", time.Since(began).Round(time.Millisecond))
		code, body, err := s.ArgoRESTAs(s.PavedToken, http.MethodGet, "/api/v1/applications", nil)
		if err != nil || code != http.StatusOK {
			t.Errorf("paved API key after restart: %d %s %v", code, body, err)
		}
	})

	t.Run("argocd-server down and back", func(t *testing.T) {
		if err := s.StopArgoCDServer(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.ArgoRESTAs(s.PavedToken, http.MethodGet, "/api/v1/applications", nil); err == nil {
			t.Error("argocd-server still answers after StopArgoCDServer")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := s.StartArgoCDServer(ctx); err != nil {
			t.Fatal(err)
		}
		code, body, err := s.ArgoRESTAs(s.PavedToken, http.MethodGet, "/api/v1/applications", nil)
		if err != nil || code != http.StatusOK {
			t.Errorf("after StartArgoCDServer: %d %s %v", code, body, err)
		}
	})

	t.Run("git push", func(t *testing.T) {
		sha, err := s.Commit(context.Background(), "plain", map[string]string{"extra.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n"}, "Add extra")
		if err != nil {
			t.Fatal(err)
		}
		code, body, err := s.ArgoREST(http.MethodGet, "/api/v1/repositories/"+urlPathEscape(s.GitURL("plain"))+"/refs", nil)
		if err != nil || code != http.StatusOK || !strings.Contains(string(body), "main") {
			t.Fatalf("refs of plain: %d %s %v", code, body, err)
		}
		if len(sha) != 40 {
			t.Errorf("commit hash %q", sha)
		}
	})

	rss, err := s.RSS()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var total int64
	for n, v := range rss {
		names = append(names, n)
		total += v
	}
	sort.Strings(names)
	for _, n := range names {
		t.Logf("RSS %-30s %5d MiB", n, rss[n]>>20)
	}
	t.Logf("RSS total %d MiB", total>>20)
}

func urlPathEscape(s string) string {
	return strings.NewReplacer("%", "%25", "/", "%2F", ":", "%3A").Replace(s)
}

// BenchmarkStart measures a warm start of the whole stack (binaries built)
// and its resident memory once up. Run with -benchtime=1x: each start takes
// seconds.
func BenchmarkStart(b *testing.B) {
	for b.Loop() {
		s, err := stack.Start(context.Background(), stack.Options{})
		if err != nil {
			b.Fatal(err)
		}
		rss, err := s.RSS()
		if err != nil {
			b.Fatal(err)
		}
		var total int64
		for _, v := range rss {
			total += v
		}
		b.ReportMetric(s.Startup.Seconds(), "startup-s")
		b.ReportMetric(float64(total>>20), "rss-MiB")
		if err := s.Stop(); err != nil {
			b.Fatal(err)
		}
	}
}
