package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/server"
)

func TestReadyzOptionalChecks(t *testing.T) {
	down := func(context.Context) error { return paved.Errorf(paved.EUnavailable, "connection refused") }
	up := func(context.Context) error { return nil }
	for _, tc := range []struct {
		name       string
		checks     []server.Check
		wantStatus int
		wantBody   string
	}{
		{"all up", []server.Check{{Name: "store", Check: up}, {Name: "infra/postgres", Check: up, Optional: true}}, 200, "ok"},
		{"optional down", []server.Check{{Name: "store", Check: up}, {Name: "infra/postgres", Check: down, Optional: true}}, 200, "degraded"},
		{"required down", []server.Check{{Name: "store", Check: down}, {Name: "infra/postgres", Check: down, Optional: true}}, 503, "unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := server.New(server.Deps{PluginID: "paved", Ready: tc.checks})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			var body struct {
				Status string            `json:"status"`
				Checks map[string]string `json:"checks"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
			}
			if rec.Code != tc.wantStatus || body.Status != tc.wantBody || len(body.Checks) != len(tc.checks) {
				t.Fatalf("got %d %s, want %d %q", rec.Code, rec.Body, tc.wantStatus, tc.wantBody)
			}
			if tc.name == "optional down" && body.Checks["infra/postgres"] != "connection refused" {
				t.Fatalf("the failing optional check is not named: %s", rec.Body)
			}
		})
	}
}
