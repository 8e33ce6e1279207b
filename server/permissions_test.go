package server_test

import (
	"strings"
	"testing"
)

// The audit log is for holders of paved.audit.read: before, every
// authenticated principal read all of it. The permission metadata lists
// paved's permissions and rules like createPermissionIntegrationRouter.
func TestAuditReadNeedsPermission(t *testing.T) {
	f := newDevexServer(t)
	carol := f.users.Mint(t, "user:default/carol", "user:default/carol", "group:default/platform")
	r := f.do(t, "GET", "/api/paved/invocations", carol, "")
	if r.status != 403 || errorName(r) != "NotAllowedError" || !strings.Contains(r.raw, "paved.audit.read") {
		t.Errorf("user token on invocations = %d %s, want 403 naming paved.audit.read", r.status, r.raw)
	}
	if r := f.do(t, "GET", "/api/paved/invocations", testToken, ""); r.status != 200 {
		t.Errorf("static token on invocations = %d %s", r.status, r.raw)
	}
	m := f.do(t, "GET", "/api/paved/.well-known/backstage/permissions/metadata", carol, "")
	if m.status != 200 || !strings.Contains(m.raw, `"name":"paved.audit.read"`) || !strings.Contains(m.raw, `"name":"IS_OWNER"`) || !strings.Contains(m.raw, `"paramsSchema"`) {
		t.Errorf("metadata = %d %.300s", m.status, m.raw)
	}
	// apply-conditions is for the permission backend, not for users.
	if r := f.do(t, "POST", "/api/paved/.well-known/backstage/permissions/apply-conditions", carol, `{"items":[]}`); r.status != 403 {
		t.Errorf("apply-conditions by a user = %d %s", r.status, r.raw)
	}
	if r := f.do(t, "POST", "/api/paved/.well-known/backstage/permissions/apply-conditions", testToken, `{"items":[{"id":"1","resourceRef":"x","resourceType":"catalog-entity","conditions":{"rule":"IS_OWNER"}}]}`); r.status != 400 || !strings.Contains(r.raw, "items.0.resourceType") {
		t.Errorf("apply-conditions with an unknown resource type = %d %s", r.status, r.raw)
	}
}
