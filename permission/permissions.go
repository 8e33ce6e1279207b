// Package permission makes paved a citizen of Backstage's permission
// framework: the permissions and rules paved defines, the client of the
// permission backend (POST /api/permission/authorize on behalf of the user,
// as Backstage's PermissionsService does), a short decision cache, the
// conditional decisions applied with paved's rules, and the policy from
// paved's config used when Backstage's framework is disabled.
package permission

import (
	"sort"

	"github.com/paved-dev/paved"
)

func basic(name, action string) paved.Permission {
	return paved.Permission{Type: "basic", Name: name, Attributes: paved.PermissionAttributes{Action: action}}
}

func resource(name, action, resourceType string) paved.Permission {
	return paved.Permission{Type: "resource", Name: name, Attributes: paved.PermissionAttributes{Action: action}, ResourceType: resourceType}
}

// paved's permissions besides one invoke permission per action (ActionInvoke).
var (
	// AuditRead reads the audit log (GET invocations).
	AuditRead = basic("paved.audit.read", "read")
	// DevExRead reads the adoption metrics (GET devex/v1/*).
	DevExRead = basic("paved.devex.read", "read")
	// FeedbackCommentsRead reads developers' feedback comments (GET
	// devex/v1/feedback/comments): their words, which the platform team
	// reads (never their names).
	FeedbackCommentsRead = basic("paved.devex.feedback.read", "read")
	// FeedbackGive rates one's own golden-path runs (GET and PUT
	// devex/v1/feedback/runs*); which runs are one's own, devex decides.
	// paved's default policy allows every user.
	FeedbackGive = basic("paved.devex.feedback.create", "create")
	// KeysRotate rotates paved's signing keys.
	KeysRotate = basic("paved.admin.keys.rotate", "update")
	// CatalogRead reads the entities paved provides to the catalog.
	CatalogRead = basic("paved.catalog.read", "read")

	// InfraProvision provisions a resource: conditions see its kind, owner
	// and parameters (size…).
	InfraProvision = resource("paved.infra.provision", "create", paved.ResourceInfra)
	// InfraConnectionRead reads a resource's connection details.
	InfraConnectionRead = resource("paved.infra.connection.read", "read", paved.ResourceInfra)
	// InfraDeprovision tears a resource down.
	InfraDeprovision = resource("paved.infra.deprovision", "delete", paved.ResourceInfra)
	// InfraExtend extends a resource's time to live.
	InfraExtend = resource("paved.infra.extend", "update", paved.ResourceInfra)
	// InfraOperate provisions for, and tears down, resources of owners the
	// caller does not belong to.
	InfraOperate = basic("paved.infra.operate", "update")

	// AppCreate creates an Argo CD application: conditions see its project,
	// destination, source repository and owner.
	AppCreate = resource("paved.argocd.app.create", "create", paved.ResourceArgoApp)
	// AppRead reads an application's status.
	AppRead = resource("paved.argocd.app.read", "read", paved.ResourceArgoApp)
	// AppSync syncs an application.
	AppSync = resource("paved.argocd.app.sync", "update", paved.ResourceArgoApp)
	// AppDelete deletes an application; with force also one paved did not create.
	AppDelete = resource("paved.argocd.app.delete", "delete", paved.ResourceArgoApp)
	// ApprovalRead lists and reads approval requests (approvals/v1);
	// a request's requester and approvers read it without.
	ApprovalRead = basic("paved.approval.read", "read")
	// ApprovalDecide approves or rejects a request; the decider must also be
	// one of its approvers and not its requester (package approval).
	ApprovalDecide = basic("paved.approval.decide", "update")

	// ProjectWiden adds destinations or source repositories to an existing
	// Argo CD project (createProject).
	ProjectWiden = basic("paved.argocd.project.widen", "update")
)

// ActionInvoke is the permission to invoke one of paved's actions, named
// like paved.action.<name>.invoke; its action attribute follows the
// action's own attributes, so a policy can allow every read-only action at once.
func ActionInvoke(name string, readOnly, destructive bool) paved.Permission {
	action := "create"
	switch {
	case destructive:
		action = "delete"
	case readOnly:
		action = "read"
	}
	return basic("paved.action."+name+".invoke", action)
}

// Fixed returns the permissions that do not depend on the actions served.
func Fixed() []paved.Permission {
	return []paved.Permission{AuditRead, DevExRead, FeedbackCommentsRead, FeedbackGive, KeysRotate, CatalogRead,
		InfraProvision, InfraConnectionRead, InfraDeprovision, InfraExtend, InfraOperate,
		AppCreate, AppRead, AppSync, AppDelete, ProjectWiden, ApprovalRead, ApprovalDecide}
}

func sortPermissions(ps []paved.Permission) {
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
}
