package scaffolder_test

import (
	"encoding/json"
	"testing"

	"github.com/paved-dev/paved/scaffolder"
)

// TestCreateWithoutWaitHasNoEmptyStatuses: right after a create Argo CD has
// not reconciled the app; its statuses and revision are absent from the
// output, never "", and the destination namespace, known from the request,
// is there.
func TestCreateWithoutWaitHasNoEmptyStatuses(t *testing.T) {
	_, client := newFakeArgoCD(t)
	reg, err := scaffolder.NewRegistry(scaffolder.RegistryOptions{PluginID: "paved"})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(scaffolder.AppActions(scaffolder.AppActionsOptions{Apps: client})...); err != nil {
		t.Fatal(err)
	}
	out, err := reg.Invoke(jane(), "paved:create-argocd-app", json.RawMessage(
		`{"name":"web","source":{"repoURL":"https://git.example.com/deploy.git","path":"web"},"destination":{"namespace":"web"}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range out {
		if v == "" {
			t.Errorf("output %s is \"\" right after the create: %v", k, out)
		}
	}
	if out["destinationNamespace"] != "web" {
		t.Errorf("output destinationNamespace = %v, want web (the request's destination)", out["destinationNamespace"])
	}
	if out["created"] != true || out["url"] == "" {
		t.Errorf("output %v", out)
	}
}
