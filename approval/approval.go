// Package approval holds infrastructure requests, and Argo CD applications
// to create, that a rule sends for a human look: the rules, the requests and their state machine (pending →
// approved → provisioning → done, or rejected, expired, failed), the
// decisions and their audit trail, and the notifications to approvers and
// requesters. Provisioning itself is infra's: an approved request is
// provisioned by infra.Service, recorded and resumable as every other one.
package approval

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/infra"
)

// KindArgoCDApp is the kind of a request for an Argo CD application
// (paved:create-argocd-app); its name is the application's instance and
// name, instance/name or instance/namespace/name.
const KindArgoCDApp = "argocd-app"

// Actions a rule applies to.
const (
	ActionProvisionInfra = "provision-infra"
	ActionCreateApp      = "create-argocd-app"
)

// The states of a request. Only pending, approved and provisioning move on;
// the others are final.
const (
	StatePending      = "pending"
	StateApproved     = "approved"
	StateProvisioning = "provisioning"
	StateDone         = "done"
	StateRejected     = "rejected"
	StateExpired      = "expired"
	StateFailed       = "failed"
)

// States lists every state, in the order of the machine.
var States = []string{StatePending, StateApproved, StateProvisioning, StateDone, StateRejected, StateExpired, StateFailed}

// Open reports whether a request in state s may still change.
func Open(s string) bool {
	return s == StatePending || s == StateApproved || s == StateProvisioning
}

// Request is one infrastructure request waiting for, or past, a decision.
type Request struct {
	ID         string         `json:"id"`
	Kind       string         `json:"kind"`
	Name       string         `json:"name"`
	Owner      string         `json:"owner"`
	Parameters map[string]any `json:"parameters"`
	TTL        time.Duration  `json:"-"`
	EntityRef  string         `json:"entityRef,omitempty"`
	// Requester is the user the request was made for (the scaffolder's obo
	// user); nobody approves their own request.
	Requester string `json:"requester"`
	// Approvers is the group whose members may decide.
	Approvers string `json:"approvers"`
	// Reason says which rule asked for approval and why.
	Reason string `json:"reason"`
	State  string `json:"state"`
	// DecidedBy and Comment are the approver's decision.
	DecidedBy string `json:"decidedBy,omitempty"`
	Comment   string `json:"comment,omitempty"`
	// ResourceID is the provisioned resource, once done (none for an app).
	ResourceID string `json:"resourceId,omitempty"`
	// App is the Argo CD application a request of kind argocd-app creates
	// once approved, as the step asked for it; its parameters are what an
	// approver reads of it.
	App *paved.AppRequest `json:"-"`
	// Error is why provisioning failed.
	Error string `json:"error,omitempty"`
	// Attempts counts the provisionings that failed on a transient error
	// and are retried.
	Attempts  int       `json:"-"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// InfraRequest is the provisioning the request asks for, marked approved.
func (r Request) InfraRequest() infra.Request {
	return infra.Request{Kind: r.Kind, Name: r.Name, Owner: r.Owner, Parameters: r.Parameters, TTL: r.TTL, EntityRef: r.EntityRef, Approval: r.ID}
}

// Event is one line of a request's audit trail.
type Event struct {
	RequestID string    `json:"requestId"`
	State     string    `json:"state"`
	Actor     string    `json:"actor"`
	Comment   string    `json:"comment,omitempty"`
	At        time.Time `json:"at"`
}

// Change moves a request from one state to another: the store applies it
// only when the request is still in From (so two approvers at once, or two
// replicas, make one change) and appends the audit event in the same
// transaction.
type Change struct {
	ID   string
	From string
	To   string
	// Actor made the change ("paved:expiry" for paved itself).
	Actor   string
	Comment string
	// ResourceID and Error are set on done and failed.
	ResourceID string
	Error      string
	At         time.Time
	// Notices are recorded with the change, in its transaction, and only
	// if it is applied: who is told of it.
	Notices []Notice
}

// Notice is a notification of a request in the outbox: recorded with the
// change it tells of, then sent, then marked done.
type Notice struct {
	ID           string
	RequestID    string
	Notification Notification
	CreatedAt    time.Time
	// Attempts counts the claims to send it.
	Attempts int
}

// Filter selects requests.
type Filter struct {
	// State: only requests in this state; empty: all.
	State string
	// Limit bounds the list (default and maximum 200).
	Limit int
}

// Store keeps requests and their audit trail.
type Store interface {
	// CreateApproval stores a new pending request, its first event and
	// notices; an open request for the same kind and name is an EConflict
	// error.
	CreateApproval(ctx context.Context, r Request, notices ...Notice) error
	GetApproval(ctx context.Context, id string) (Request, error)
	// FindOpenApproval returns the open request for kind and name, or ENotFound.
	FindOpenApproval(ctx context.Context, kind, name string) (Request, error)
	// ListApprovals returns requests, newest first.
	ListApprovals(ctx context.Context, f Filter) ([]Request, error)
	// ChangeApproval applies c; false when the request is not in c.From.
	ChangeApproval(ctx context.Context, c Change) (bool, error)
	// ExpiredApprovals returns pending requests whose expiry is at or before at.
	ExpiredApprovals(ctx context.Context, at time.Time, limit int) ([]Request, error)
	// StalledApprovals returns approved or provisioning requests last
	// changed at or before before (their provisioner died) whose retry, if
	// any, is due at now.
	StalledApprovals(ctx context.Context, before, now time.Time, limit int) ([]Request, error)
	// RetryApproval records a failed attempt of a provisioning request and
	// when to try again (retryAt), with the reason in the audit trail; it
	// returns the attempts so far. A request no longer provisioning is an
	// EConflict error.
	RetryApproval(ctx context.Context, id string, at, retryAt time.Time, reason string) (int, error)
	ApprovalEvents(ctx context.Context, id string) ([]Event, error)
	// DueApprovalNotices returns notices not done and not claimed after
	// claimedBefore, oldest first.
	DueApprovalNotices(ctx context.Context, claimedBefore time.Time, limit int) ([]Notice, error)
	// ClaimApprovalNotice takes a notice for sending at at, unless it is
	// done or claimed after claimedBefore: of several senders, one wins.
	ClaimApprovalNotice(ctx context.Context, id string, at, claimedBefore time.Time) (bool, error)
	// FinishApprovalNotice marks a notice sent.
	FinishApprovalNotice(ctx context.Context, id string, at time.Time) error
	// PruneApprovalNotices removes notices done at or before before.
	PruneApprovalNotices(ctx context.Context, before time.Time) (int, error)
}

// Rule marks the requests that need approval.
type Rule struct {
	// Action is what the rule applies to: provision-infra (empty) or
	// create-argocd-app.
	Action string
	// Kind is the infra kind the rule is for; empty: every kind.
	Kind string
	// Parameters match when every named parameter has one of the values
	// ("size in [large]").
	Parameters map[string][]string
	// OverBudget matches requests that would exceed their team's budget
	// (with the budgets' overBudget: approval).
	OverBudget bool
	// Instance, Project and Namespace (globs) match an Argo CD application
	// by its instance, project and destination namespace; empty: any.
	Instance, Project, Namespace string
	// Approvers is the group that decides, or "owner": the members of the
	// request's owner group (other than the requester).
	Approvers string
}

// ApproversOwner is the Approvers of a rule decided by the owner group.
const ApproversOwner = "owner"

// matches reports whether r matches a request of kind with params (the
// over-budget condition is checked by the caller).
func (ru Rule) matches(kind string, params map[string]any) bool {
	if ru.Action == ActionCreateApp {
		return false
	}
	if ru.Kind != "" {
		if ok, _ := path.Match(ru.Kind, kind); !ok {
			return false
		}
	}
	for name, values := range ru.Parameters {
		v, ok := params[name]
		if !ok || !slices.Contains(values, fmt.Sprint(v)) {
			return false
		}
	}
	return true
}

// matchesApp reports whether ru matches the creation of app.
func (ru Rule) matchesApp(app paved.AppRequest) bool {
	if ru.Action != ActionCreateApp {
		return false
	}
	project := app.Project
	if project == "" {
		project = "default"
	}
	for _, m := range [][2]string{{ru.Instance, app.Instance}, {ru.Project, project}, {ru.Namespace, app.Destination.Namespace}} {
		if m[0] == "" {
			continue
		}
		if ok, _ := path.Match(m[0], m[1]); !ok {
			return false
		}
	}
	return true
}

// describe says what the rule asks for, for the request's reason.
func (ru Rule) describe(i int) string {
	var parts []string
	if ru.Action == ActionCreateApp {
		parts = append(parts, "action "+ru.Action)
		for _, m := range [][2]string{{"instance", ru.Instance}, {"project", ru.Project}, {"namespace", ru.Namespace}} {
			if m[1] != "" {
				parts = append(parts, m[0]+" "+m[1])
			}
		}
	}
	if ru.Kind != "" {
		parts = append(parts, "kind "+ru.Kind)
	}
	names := make([]string, 0, len(ru.Parameters))
	for n := range ru.Parameters {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s in [%s]", n, strings.Join(ru.Parameters[n], ", ")))
	}
	if ru.OverBudget {
		parts = append(parts, "over budget")
	}
	return fmt.Sprintf("approvals.rules[%d] (%s)", i, strings.Join(parts, ", "))
}
