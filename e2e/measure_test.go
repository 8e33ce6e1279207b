//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// measure sets paved's wall time per action (HTTP to paved, paved's gRPC to
// Argo CD, its audit write) against the same operation sent straight to Argo
// CD's REST API with the same API key, alternating which goes first. It prints
// E2E lines and asserts only that every call succeeded: timings are reported,
// never asserted.
func (w *world) measure(t *testing.T) {
	ctx := w.ctx(t)
	const rounds = 15 // after one warm-up round
	ns := "measure-" + w.sfx
	repo := w.st.GitURL("plain")

	direct := func(method, path string, body any, want ...int) time.Duration {
		t.Helper()
		began := time.Now()
		code, out, err := w.st.ArgoRESTAs(w.st.PavedToken, method, path, body)
		took := time.Since(began)
		if want == nil {
			want = []int{http.StatusOK}
		}
		if err != nil || !slices.Contains(want, code) {
			t.Fatalf("%s %s: %d %.300s %v", method, path, code, out, err)
		}
		return took
	}
	viaPaved := func(action string, input map[string]any) time.Duration {
		t.Helper()
		return w.api.invoke(t, ctx, action, input).Took
	}

	type pair struct{ paved, direct time.Duration }
	samples := map[string][]pair{}
	var postOnly []float64 // create vs a bare POST, without the existence check paved makes
	order := []string{"create", "get", "sync", "delete"}
	for i := 0; i <= rounds; i++ {
		pn, dn := fmt.Sprintf("mp-%s-%d", w.sfx, i), fmt.Sprintf("md-%s-%d", w.sfx, i)
		pavedFirst := i%2 == 0
		ops := map[string][2]func() (time.Duration, time.Duration){
			"create": {
				func() (time.Duration, time.Duration) {
					d := viaPaved("paved:create-argocd-app", map[string]any{
						"instance": "stack", "name": pn, "project": "default",
						"source":      map[string]any{"repoURL": repo, "path": ".", "targetRevision": "main"},
						"destination": map[string]any{"namespace": ns},
					})
					return d, 0
				},
				func() (time.Duration, time.Duration) {
					get := direct(http.MethodGet, "/api/v1/applications/"+dn+"?project=default", nil, http.StatusNotFound)
					post := direct(http.MethodPost, "/api/v1/applications?validate=true", map[string]any{
						"metadata": map[string]any{"name": dn, "namespace": "argocd"},
						"spec": map[string]any{
							"project":     "default",
							"source":      map[string]any{"repoURL": repo, "path": ".", "targetRevision": "main"},
							"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": ns},
						},
					})
					return get + post, post
				},
			},
			"get": {
				func() (time.Duration, time.Duration) {
					return viaPaved("paved:get-argocd-app", map[string]any{"instance": "stack", "name": pn}), 0
				},
				func() (time.Duration, time.Duration) {
					return direct(http.MethodGet, "/api/v1/applications/"+dn+"?project=default", nil), 0
				},
			},
			"sync": {
				func() (time.Duration, time.Duration) {
					return viaPaved("paved:sync-argocd-app", map[string]any{"instance": "stack", "name": pn, "dryRun": true}), 0
				},
				func() (time.Duration, time.Duration) {
					return direct(http.MethodPost, "/api/v1/applications/"+dn+"/sync",
						map[string]any{"name": dn, "project": "default", "dryRun": true, "prune": false}), 0
				},
			},
			"delete": {
				func() (time.Duration, time.Duration) {
					return viaPaved("paved:delete-argocd-app", map[string]any{"instance": "stack", "name": pn}), 0
				},
				func() (time.Duration, time.Duration) {
					return direct(http.MethodDelete, "/api/v1/applications/"+dn+"?cascade=true&project=default", nil), 0
				},
			},
		}
		for _, op := range order {
			f := ops[op]
			var p, d, post time.Duration
			if pavedFirst {
				p, _ = f[0]()
				d, post = f[1]()
			} else {
				d, post = f[1]()
				p, _ = f[0]()
			}
			if i == 0 {
				continue // warm-up: connections, repo-server caches
			}
			samples[op] = append(samples[op], pair{p, d})
			if op == "create" {
				postOnly = append(postOnly, float64(p)/float64(post))
			}
		}
	}

	var all []float64
	for _, op := range order {
		var pv, dv, ratio []float64
		for _, s := range samples[op] {
			pv = append(pv, ms(s.paved))
			dv = append(dv, ms(s.direct))
			ratio = append(ratio, float64(s.paved)/float64(s.direct))
		}
		all = append(all, ratio...)
		extra := ""
		if op == "create" {
			extra = fmt.Sprintf(" (direct = GET+POST, as paved does; vs the POST alone: ratio %.2f)", median(postOnly))
		}
		fmt.Printf("E2E measure %s %-6s paved %7.1f ms  direct %7.1f ms  median ratio %.2f  n=%d%s\n",
			w.sfx, op, median(pv), median(dv), median(ratio), len(ratio), extra)
		t.Logf("%s: paved %s ms; direct %s ms", op, fmtList(pv), fmtList(dv))
	}
	fmt.Printf("E2E measure %s all    median ratio %.2f (target <= 1.10)\n", w.sfx, median(all))
}

func fmtList(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.1f", x)
	}
	return strings.Join(parts, " ")
}
