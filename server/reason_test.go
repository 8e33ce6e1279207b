package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestInvokeErrorsCarryTheReasonInTheStatusLine checks, over a real TCP
// connection, the status line Backstage's task log prints: "Request failed
// with <status> <statusText>" takes statusText from the reason phrase.
func TestInvokeErrorsCarryTheReasonInTheStatusLine(t *testing.T) {
	srv := httptest.NewServer(newServer(t).handler)
	t.Cleanup(srv.Close)
	const v1 = "/api/paved/.backstage/actions/v1/actions/"
	const secret = "hunter-two-secret"
	tests := []struct {
		name, path, token, body string
		wantStatus              int
		wantReason              string // the whole status line after the code
		notInReason             string
	}{
		{"bad field", v1 + "paved:greet/invoke", testToken, `{"name":1}`, 400, "invalid input: name: ", ""},
		{"missing field", v1 + "paved:greet/invoke", testToken, `{}`, 400, "invalid input: name: is required", ""},
		{"unknown action", v1 + "paved:nope/invoke", testToken, `{}`, 404, `action "paved:nope" not found`, ""},
		{"no token", v1 + "paved:greet/invoke", "", `{"name":"jo"}`, 401, "", ""},
		{"internal error keeps its detail", v1 + "paved:explode/invoke", testToken, `{}`, 500, "internal error", "secret detail"},
		{"a v2 secret echoed by a message is masked", "/api/paved/.backstage/actions/v2/actions/paved:greet/invoke", testToken,
			`{"input":{"name":"` + secret + `"},"secrets":{"k":"` + secret + `"}}`, 400, "invalid input: name: ", secret},
		{"a body too large keeps the standard line", v1 + "paved:greet/invoke", testToken, `{"name":"` + strings.Repeat("a", 200<<10) + `"}`, 413, "Request Entity Too Large", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+tt.path, strings.NewReader(tt.body))
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %q, want %d; body %s", resp.Status, tt.wantStatus, raw)
			}
			reason := strings.TrimPrefix(resp.Status, resp.Status[:4])
			if !strings.Contains(reason, tt.wantReason) {
				t.Errorf("reason %q lacks %q", reason, tt.wantReason)
			}
			if tt.notInReason != "" && (strings.Contains(resp.Status, tt.notInReason) || bytes.Contains(raw, []byte(tt.notInReason))) {
				t.Errorf("%q in the answer: %s / %s", tt.notInReason, resp.Status, raw)
			}
			var body struct {
				Error struct{ Name, Message string }
			}
			if err := json.Unmarshal(raw, &body); err != nil || body.Error.Name == "" {
				t.Fatalf("body is not Backstage's error JSON: %s", raw)
			}
			if resp.ContentLength != int64(len(raw)) {
				t.Errorf("Content-Length %d, body %d bytes", resp.ContentLength, len(raw))
			}
			if tt.wantReason != "" && tt.wantStatus != 413 && !strings.HasPrefix(reason, firstLine(body.Error.Message)[:8]) {
				t.Errorf("reason %q is not the body's message %q", reason, body.Error.Message)
			}
		})
	}

	// A success keeps the standard line and the connection.
	ok, _ := http.NewRequest(http.MethodPost, srv.URL+v1+"paved:greet/invoke", strings.NewReader(`{"name":"jo"}`))
	ok.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := srv.Client().Do(ok)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Status != "200 OK" || resp.Close {
		t.Errorf("success: %q, close %t", resp.Status, resp.Close)
	}
	// Other routes keep the standard phrase.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/paved/invocations?limit=0", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if resp, err = srv.Client().Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Status != "400 Bad Request" {
		t.Errorf("invocations: %q, want the standard phrase", resp.Status)
	}
}

func firstLine(s string) string { return strings.SplitN(s, "\n", 2)[0] + "        " }
