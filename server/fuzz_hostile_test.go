package server_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paved-dev/paved/sqlstore/sqlite"
)

// FuzzRoutes sends any method, path parameter, query string, body and
// Authorization to every route of the real router: the answer is never a
// 5xx (no dependency is down here), never a panic, and every error is
// Backstage's error JSON.
func FuzzRoutes(f *testing.F) {
	seeds := []struct {
		route, method, auth uint8
		param, query, body  string
	}{
		{5, 2, 1, "paved:list-infra-kinds", "", `{"kind":"s3-bucket"}`},
		{6, 2, 1, "paved:create-argocd-app", "", `{"input":{"name":"demo","source":{"repoURL":"https://git.test/x.git","path":"p"},"destination":{"namespace":"demo"},"mode":"gitops"}}`},
		{5, 2, 1, "paved:provision-infra", "", `{"kind":"s3-bucket","name":"assets","parameters":{"region":"eu-west-1"}}`},
		{5, 2, 1, "paved%3Adeprovision-infra", "", `{"kind":"s3-bucket","name":"assets"}`},
		{5, 2, 1, "paved:create-argocd-appset", "", `{"name":"shop","repoURL":"r","path":"{{.environment}}","environments":[{"name":"dev","namespace":"d"}]}`},
		{7, 0, 1, "", "limit=5&since=2026-01-01T00:00:00Z&action=paved:x", ""},
		{9, 0, 1, "", "limit=1&cursor=YQ", ""},
		{11, 0, 1, "", "cursor=e.1&wait=0", ""},
		{12, 0, 1, "", "from=2026-01-01&to=2026-01-31&grouping=week&owner=team-a&template=template:default/x&format=csv", ""},
		{24, 0, 1, "", "groupBy=service&service=Component:Shop&format=csv", ""},
		{18, 0, 2, "0b6f5a2e-6d0c-4c43-9a4e-5f3e2b1c0d9a", "", ""},
		{8, 2, 2, "", "", ""},
		{0, 5, 0, "%zz", "a=%00", "\x00"},
	}
	for _, s := range seeds {
		f.Add(s.route, s.method, s.auth, s.param, s.query, s.body)
	}
	store, err := sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "paved.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	fx := newHostile(f, store)
	methods := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
	f.Fuzz(func(t *testing.T, route, method, auth uint8, param, query, body string) {
		r := hostileRoutes[int(route)%len(hostileRoutes)]
		target := r.target
		if i := strings.Index(r.route, ":id"); i >= 0 {
			target = r.route[:i] + param + r.route[i+3:]
		}
		if query != "" {
			target += "?" + query
		}
		m := r.method
		if method%4 == 3 {
			m = methods[int(method/4)%len(methods)]
		}
		req := hostileRequest{method: m, target: target, header: http.Header{}, body: body}
		switch auth % 3 {
		case 1:
			req.header.Set("Authorization", "Bearer "+testToken)
		case 2:
			req.header.Set("Authorization", "Bearer "+fx.readerTk)
		}
		resp := fx.serve(t, req)
		if resp.status >= 500 {
			t.Fatalf("%s %q body %q: %d %s", m, target, body, resp.status, resp.raw)
		}
		if resp.status >= 400 && m != http.MethodHead {
			if msg := checkErrorJSON(resp); msg != "" {
				t.Fatalf("%s %q body %q: %s: %s", m, target, body, msg, resp.raw)
			}
		}
	})
}
