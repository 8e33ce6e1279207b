//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"

	"github.com/paved-dev/paved/e2e/stack"
)

// argoPermissionEntities are, beside permissionEntities (alice in
// platform, who may do anything), the people of TestPermissionArgoApps and
// the templates they run: xena in x-deployers (apps of project proj-x) and
// tara in team-a-deployers (apps deploying to namespaces team-a-*), as
// e2e/backstagehost/permission-policy.js says.
const argoPermissionEntities = `apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: x-deployers}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a-deployers}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: xena}
spec: {memberOf: [x-deployers]}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: tara}
spec: {memberOf: [team-a-deployers]}
---
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: e2e-perm-app-create
  title: e2e create an Argo CD app in its entity's project as the user
spec:
  owner: group:default/platform
  type: service
  parameters:
    - required: [name, project, namespace, entity, repoURL]
      properties:
        name: {type: string}
        project: {type: string}
        namespace: {type: string}
        entity: {type: string}
        repoURL: {type: string}
  steps:
    - id: create
      name: Create the Argo CD application
      action: paved:create-argocd-app
      input:
        name: ${{ parameters.name }}
        project: ${{ parameters.project }}
        createProject: true
        source:
          repoURL: ${{ parameters.repoURL }}
          path: .
          targetRevision: main
        destination:
          namespace: ${{ parameters.namespace }}
        createNamespace: true
        entityRef: ${{ parameters.entity }}
  output:
    created: ${{ steps.create.output.created }}
---
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: e2e-perm-app-sync
  title: e2e sync an Argo CD app as the user
spec:
  owner: group:default/platform
  type: service
  parameters:
    - required: [name, project]
      properties:
        name: {type: string}
        project: {type: string}
  steps:
    - id: sync
      name: Sync the application
      action: paved:sync-argocd-app
      input:
        name: ${{ parameters.name }}
        project: ${{ parameters.project }}
  output:
    operationPhase: ${{ steps.sync.output.operationPhase }}
---
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: e2e-perm-app-delete
  title: e2e delete an Argo CD app as the user
spec:
  owner: group:default/platform
  type: service
  parameters:
    - required: [name, project]
      properties:
        name: {type: string}
        project: {type: string}
  steps:
    - id: delete
      name: Delete the application and its objects
      action: paved:delete-argocd-app
      input:
        name: ${{ parameters.name }}
        project: ${{ parameters.project }}
  output:
    deleted: ${{ steps.delete.output.deleted }}
`

// TestPermissionArgoApps: the real permission backend decides paved's Argo
// CD app permissions through conditional decisions on paved's rules (the
// policy of e2e/backstagehost/permission-policy.js), against the real Argo CD
// of the e2e stack. xena may sync and delete the apps of project proj-x
// (HAS_PROJECT), tara those deploying to team-a-* (DESTINATION_NAMESPACE_MATCHES):
// each syncs and deletes hers, and is refused the other's, through the
// scaffolder (the 403 with the permission and the rule in the task's events)
// and with her own token, the refused app untouched in Argo CD. Deleting an
// app paved did not create is refused (409 without force; with force, 403 by
// IS_MANAGED_BY_PAVED), and it stays in Argo CD, until platform deletes it.
// create-argocd-app into paved's existing project with a new destination is
// refused without paved.argocd.project.widen (the project keeps its
// destinations) and allowed with it (the project lists the new one).
func TestPermissionArgoApps(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	st := stack.StartForTest(ctx, t, "argocd-server", "argocd-repo-server", "argocd-application-controller")
	h := startPermissionHost(t, ctx, permissionHostOptions{
		Database:    scenarioDatabase(t),
		PavedConfig: "\n" + stackInstance(st.ArgoCDAddr),
		Env:         []string{"ARGO_TOKEN=" + st.PavedToken},
		Entities:    permissionEntities + "---\n" + argoPermissionEntities,
		Templates:   []string{"e2e-perm-app-create", "e2e-perm-app-sync", "e2e-perm-app-delete"},
		Users:       map[string]string{"alice": "platform", "xena": "x-deployers", "tara": "team-a-deployers"},
	})
	sfx := randomHex(3)
	repo := st.GitURL("plain")

	// What platform set up with paved's operator token: xb in project proj-x
	// deploying to team-b-…, ya in project proj-y deploying to team-a-…,
	// each in a project paved creates for its component; and legacy, an app
	// someone made in Argo CD without paved, in proj-x too.
	xb, ya, legacy := "xb-"+sfx, "ya-"+sfx, "legacy-"+sfx
	xbNS := "team-b-" + xb
	for _, app := range []struct{ name, project, namespace string }{{xb, "proj-x", xbNS}, {ya, "proj-y", "team-a-" + ya}} {
		h.c.invoke(t, ctx, "paved:create-argocd-app", map[string]any{"name": app.name, "project": app.project, "createProject": true,
			"source":      map[string]any{"repoURL": repo, "path": ".", "targetRevision": "main"},
			"destination": map[string]any{"namespace": app.namespace}, "createNamespace": true,
			"entityRef": "component:default/" + app.name})
	}
	if code, body, err := st.ArgoREST(http.MethodPost, "/api/v1/applications", map[string]any{
		"metadata": map[string]any{"name": legacy, "namespace": "argocd"},
		"spec": map[string]any{"project": "proj-x",
			"source":      map[string]any{"repoURL": repo, "path": ".", "targetRevision": "main"},
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": xbNS}},
	}); err != nil || code != http.StatusOK {
		t.Fatalf("create %s in Argo CD: %d %s %v", legacy, code, body, err)
	}

	invoke := func(t *testing.T, user, action string, input map[string]any) invokeResult {
		t.Helper()
		res, err := h.c.invokeAs(ctx, h.token[user], action, input)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// untouched asserts that Argo CD still has the app, with no sync asked
	// for or run and not being deleted: Argo CD records a sync request on the
	// app (operation) and a delete (deletionTimestamp) before answering, so
	// a refused call leaves neither.
	untouched := func(t *testing.T, name string) {
		t.Helper()
		app := argoApp(t, st, name, "")
		if app.Operation != nil || app.Status.OperationState != nil || len(app.Status.History) > 0 || app.DeletionTimestamp != nil {
			t.Errorf("%s after a refusal: operation %+v, last operation %+v, history %d, deletion %v; want untouched",
				name, app.Operation, app.Status.OperationState, len(app.Status.History), app.DeletionTimestamp)
		}
	}
	synced := func(t *testing.T, name string) {
		t.Helper()
		eventually(t, 3*time.Minute, name+" synced by Argo CD", func() (bool, string) {
			app := argoApp(t, st, name, "")
			op := app.Status.OperationState
			if op == nil {
				return false, "no operation"
			}
			return op.Phase == "Succeeded" && op.Operation.Sync != nil, fmt.Sprintf("%s: %s", op.Phase, op.Message)
		})
	}
	// Argo CD answers 404 for a missing app only to a GET that names the
	// project (without, 403: it does not tell what exists).
	gone := func(t *testing.T, name, project string) {
		t.Helper()
		eventually(t, 3*time.Minute, name+" deleted in Argo CD", func() (bool, string) {
			code, _ := appCode(t, st, name, project)
			return code == http.StatusNotFound, fmt.Sprintf("GET %d", code)
		})
	}

	t.Run("sync only in the policy's scope", func(t *testing.T) {
		task := h.run(t, ctx, "xena", "e2e-perm-app-sync", map[string]any{"name": ya, "project": "proj-y"})
		taskEventsSay(t, task, "403", "user:default/xena may not paved.argocd.app.sync", "HAS_PROJECT")
		res := invoke(t, "xena", "paved:sync-argocd-app", map[string]any{"name": ya, "project": "proj-y"})
		forbidden(t, "xena syncs "+ya+" with her token", res.Status, res.Error.Name, res.Error.Message, "paved.argocd.app.sync", "HAS_PROJECT", ya)
		t.Logf("xena syncs %s with her token: %d %s: %s", ya, res.Status, res.Error.Name, res.Error.Message)
		untouched(t, ya)

		task = h.run(t, ctx, "tara", "e2e-perm-app-sync", map[string]any{"name": xb, "project": "proj-x"})
		taskEventsSay(t, task, "403", "user:default/tara may not paved.argocd.app.sync", "DESTINATION_NAMESPACE_MATCHES")
		res = invoke(t, "tara", "paved:sync-argocd-app", map[string]any{"name": xb, "project": "proj-x"})
		forbidden(t, "tara syncs "+xb+" with her token", res.Status, res.Error.Name, res.Error.Message, "paved.argocd.app.sync", "DESTINATION_NAMESPACE_MATCHES", xb)
		untouched(t, xb)

		// Each syncs hers: xena's in proj-x though it deploys to team-b-…,
		// tara's deploying to team-a-… though in proj-y.
		if task := h.run(t, ctx, "xena", "e2e-perm-app-sync", map[string]any{"name": xb, "project": "proj-x"}); task.Status != "completed" {
			t.Fatalf("xena syncs %s: %s", xb, taskFailure(task))
		}
		if res := invoke(t, "tara", "paved:sync-argocd-app", map[string]any{"name": ya, "project": "proj-y"}); res.Status != http.StatusOK {
			t.Fatalf("tara syncs %s with her token: %d %s: %s", ya, res.Status, res.Error.Name, res.Error.Message)
		}
		synced(t, xb)
		synced(t, ya)
	})

	t.Run("create into paved's project: widening needs paved.argocd.project.widen", func(t *testing.T) {
		// Outside her scope: no app, whatever the project would admit.
		other := "xc-" + sfx
		res := invoke(t, "xena", "paved:create-argocd-app", map[string]any{"name": other, "project": "proj-y",
			"source": map[string]any{"repoURL": repo, "path": "."}, "destination": map[string]any{"namespace": "team-a-" + other}})
		forbidden(t, "xena creates an app in proj-y", res.Status, res.Error.Name, res.Error.Message, "paved.argocd.app.create", "HAS_PROJECT")
		if code, _ := appCode(t, st, other, "proj-y"); code != http.StatusNotFound {
			t.Errorf("%s after a refused create: GET %d, want 404", other, code)
		}

		// A second app of xb's component, in the project paved made for it,
		// to a namespace the project does not admit yet.
		xw := "xw-" + sfx
		wNS := "team-b-" + xw
		values := map[string]any{"name": xw, "project": "proj-x", "namespace": wNS, "entity": "component:default/" + xb, "repoURL": repo}
		task := h.run(t, ctx, "xena", "e2e-perm-app-create", values)
		taskEventsSay(t, task, "403", "user:default/xena may not paved.argocd.project.widen", "widening project proj-x", wNS)
		t.Logf("xena's create of %s: task %s %s: %s", xw, task.ID, task.Status, task.Error)
		if ns := projectNamespaces(t, st, "proj-x"); !slices.Equal(ns, []string{xbNS}) {
			t.Errorf("proj-x destinations after a refused widening: %v, want only %s", ns, xbNS)
		}
		if code, _ := appCode(t, st, xw, "proj-x"); code != http.StatusNotFound {
			t.Errorf("%s after a refused widening: GET %d, want 404", xw, code)
		}

		task = h.run(t, ctx, "alice", "e2e-perm-app-create", values)
		if task.Status != "completed" || task.Output["created"] != true {
			t.Fatalf("alice (platform) creates %s: %s (output %v)", xw, taskFailure(task), task.Output)
		}
		if ns := projectNamespaces(t, st, "proj-x"); !slices.Equal(ns, []string{xbNS, wNS}) {
			t.Errorf("proj-x destinations after alice's widening: %v, want %s and %s", ns, xbNS, wNS)
		}
		if code, _ := appCode(t, st, xw, "proj-x"); code != http.StatusOK {
			t.Errorf("%s after alice's create: GET %d", xw, code)
		}
	})

	t.Run("delete only in the policy's scope and only what paved created", func(t *testing.T) {
		task := h.run(t, ctx, "xena", "e2e-perm-app-delete", map[string]any{"name": ya, "project": "proj-y"})
		taskEventsSay(t, task, "403", "user:default/xena may not paved.argocd.app.delete", "HAS_PROJECT")
		res := invoke(t, "xena", "paved:delete-argocd-app", map[string]any{"name": ya, "project": "proj-y"})
		forbidden(t, "xena deletes "+ya+" with her token", res.Status, res.Error.Name, res.Error.Message, "paved.argocd.app.delete", "HAS_PROJECT")

		task = h.run(t, ctx, "tara", "e2e-perm-app-delete", map[string]any{"name": xb, "project": "proj-x"})
		taskEventsSay(t, task, "403", "user:default/tara may not paved.argocd.app.delete", "DESTINATION_NAMESPACE_MATCHES")
		res = invoke(t, "tara", "paved:delete-argocd-app", map[string]any{"name": xb, "project": "proj-x"})
		forbidden(t, "tara deletes "+xb+" with her token", res.Status, res.Error.Name, res.Error.Message, "paved.argocd.app.delete", "DESTINATION_NAMESPACE_MATCHES")
		for _, name := range []string{xb, ya} {
			if app := argoApp(t, st, name, ""); app.DeletionTimestamp != nil {
				t.Errorf("%s is being deleted after refusals", name)
			}
		}

		// legacy is in xena's project, but paved did not create it: refused
		// by default, and with force by the policy's IS_MANAGED_BY_PAVED.
		task = h.run(t, ctx, "xena", "e2e-perm-app-delete", map[string]any{"name": legacy, "project": "proj-x"})
		taskEventsSay(t, task, "409", "not created by paved", "force")
		res = invoke(t, "xena", "paved:delete-argocd-app", map[string]any{"name": legacy, "project": "proj-x", "force": true})
		forbidden(t, "xena force-deletes "+legacy, res.Status, res.Error.Name, res.Error.Message, "paved.argocd.app.delete", "IS_MANAGED_BY_PAVED")
		t.Logf("xena force-deletes %s: %d %s: %s", legacy, res.Status, res.Error.Name, res.Error.Message)
		untouched(t, legacy)

		if task := h.run(t, ctx, "xena", "e2e-perm-app-delete", map[string]any{"name": xb, "project": "proj-x"}); task.Status != "completed" || task.Output["deleted"] != true {
			t.Fatalf("xena deletes %s: %s (output %v)", xb, taskFailure(task), task.Output)
		}
		if res := invoke(t, "tara", "paved:delete-argocd-app", map[string]any{"name": ya, "project": "proj-y"}); res.Status != http.StatusOK || res.Output["deleted"] != true {
			t.Fatalf("tara deletes %s with her token: %d %s: %s", ya, res.Status, res.Error.Name, res.Error.Message)
		}
		if res := invoke(t, "alice", "paved:delete-argocd-app", map[string]any{"name": legacy, "project": "proj-x", "force": true}); res.Status != http.StatusOK || res.Output["deleted"] != true {
			t.Fatalf("alice (platform) force-deletes %s: %d %s: %s", legacy, res.Status, res.Error.Name, res.Error.Message)
		}
		gone(t, xb, "proj-x")
		gone(t, ya, "proj-y")
		gone(t, legacy, "proj-x")
	})
}

// projectNamespaces lists the destination namespaces of an Argo CD project, in order.
func projectNamespaces(t *testing.T, st *stack.Stack, name string) []string {
	t.Helper()
	code, body, err := st.ArgoREST(http.MethodGet, "/api/v1/projects/"+name, nil)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET project %s: %d %s %v", name, code, body, err)
	}
	var p v1alpha1.AppProject
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range p.Spec.Destinations {
		out = append(out, d.Namespace)
	}
	return out
}
