// Package devex measures the golden paths: who runs which software template,
// whether the runs succeed, how much time they save, how much of the catalog
// came from templates, and how fast the services they create reach a healthy
// first deploy and how often they deploy after that.
//
// The events come from Backstage's scaffolder task API, Backstage's catalog
// and Argo CD; the store keeps them with daily rollups; this package turns
// them into the figures the Backstage page shows and the OpenTelemetry
// metrics paved exports. It imports no framework, database or HTTP client:
// its sources and its store are interfaces declared here.
package devex

import (
	"strings"
	"time"
)

// Scaffolder task statuses (Backstage's TaskStatus).
const (
	TaskOpen       = "open"
	TaskProcessing = "processing"
	TaskCompleted  = "completed"
	TaskFailed     = "failed"
	TaskCancelled  = "cancelled"
	TaskSkipped    = "skipped"
)

// Final reports whether a task with this status will not change any more.
func Final(status string) bool {
	switch status {
	case TaskCompleted, TaskFailed, TaskCancelled, TaskSkipped:
		return true
	}
	return false
}

// Result is the result attribute of a finished run: success, failure or cancelled.
func Result(status string) string {
	switch status {
	case TaskCompleted:
		return "success"
	case TaskFailed:
		return "failure"
	case TaskCancelled, TaskSkipped:
		return "cancelled"
	}
	return ""
}

// Task is one scaffolder task as Backstage's task API reports it.
type Task struct {
	ID          string
	TemplateRef string // spec.templateInfo.entityRef
	Status      string
	CreatedAt   time.Time
	HeartbeatAt time.Time // lastHeartbeatAt, zero when never claimed
	CreatedBy   string    // the initiating user's entity ref, "" for service-started tasks
	// Owner is the group the run creates something for: the template's
	// "owner" parameter, as a group entity ref.
	Owner string
	// TimeSaved is the template's backstage.io/time-saved annotation as the
	// task carried it when it was created.
	TimeSaved time.Duration
	// TemplateVersion is the version of the template the task ran
	// (TemplateVersionOf its metadata as the task carried it), "" when unknown.
	TemplateVersion string
}

// TaskEvent is one event of a task's log (GET /v2/tasks/:id/events).
type TaskEvent struct {
	Type      string // "log", "completion", "cancelled", "recovered"
	CreatedAt time.Time
	// EntityRef is output.entityRef of a completion event: the entity the
	// run registered, when the template outputs one.
	EntityRef string
}

// Run is a task as the store keeps it.
type Run struct {
	TaskID      string
	TemplateRef string
	Owner       string
	UserRef     string
	EntityRef   string
	Status      string
	CreatedAt   time.Time
	HeartbeatAt time.Time
	FinishedAt  time.Time // zero until the run is final
	TimeSaved   time.Duration
	// TemplateVersion is the version of the template the run ran, "" when
	// unknown; a succeeded run that registered an entity records it as the
	// entity's version (freshness.go).
	TemplateVersion string
}

// Day is the UTC date of t, the key of daily rollups ("2026-11-01").
func Day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// Duration is the run's wall time, zero until it is final.
func (r Run) Duration() time.Duration {
	if r.FinishedAt.IsZero() || r.FinishedAt.Before(r.CreatedAt) {
		return 0
	}
	return r.FinishedAt.Sub(r.CreatedAt)
}

// Change is what storing a batch of runs changed, as the store decided it:
// runs it had never seen and runs that became final now. A batch stored
// again changes nothing, so metrics fed from Changes never count twice.
type Change struct {
	New      []Run
	Finished []Run
}

// Component is a catalog entity that counts for golden-path coverage.
type Component struct {
	EntityRef      string // "component:default/shop"
	Kind           string
	Owner          string // group entity ref
	SourceTemplate string // backstage.io/source-template, "" when made by hand
}

// Origin is "template" for entities a template created, else "manual".
func (c Component) Origin() string {
	if c.SourceTemplate != "" {
		return "template"
	}
	return "manual"
}

// AppObservation is one look at an application paved created in Argo CD.
type AppObservation struct {
	Key         string // instance/namespace/name
	Service     string // the Backstage entity ref, or the app name
	Environment string // the destination namespace or cluster
	TemplateRef string
	TaskID      string
	CreatedAt   time.Time
	Healthy     bool // Synced and Healthy
	ObservedAt  time.Time
	// LastSyncAt is when the app's latest sync finished: an app already
	// healthy the first time paved sees it was healthy since then at the latest.
	LastSyncAt  time.Time
	Deployments []DeploymentEvent
}

// DeploymentEvent is one sync of an application: an entry of its history
// (succeeded) or a failed sync operation.
type DeploymentEvent struct {
	ID         string // the history id, or "failed:<revision>"
	Revision   string
	Succeeded  bool
	DeployedAt time.Time
}

// AppChange is what storing app observations changed.
type AppChange struct {
	// Healthy lists apps seen healthy for the first time, with the time from
	// their template run (or creation) to that moment.
	Healthy []TimeToHealthy
	// Deployments lists deployments stored for the first time.
	Deployments []StoredDeployment
}

// TimeToHealthy is one app's first healthy moment.
type TimeToHealthy struct {
	TemplateRef string
	Duration    time.Duration
}

// StoredDeployment is a deployment the store had not seen.
type StoredDeployment struct {
	Service, Environment string
	Succeeded            bool
}

// GroupRef normalizes an owner as Backstage writes it ("team-a",
// "group:team-a", "default/team-a") into a full group entity ref. Refs of
// other kinds (user:…) keep their kind.
func GroupRef(owner string) string {
	return EntityRef(owner, "group")
}

// EntityRef normalizes ref as Backstage compares refs: the kind defaultKind
// and the namespace "default" when ref omits them, all in lower case
// ("Component:Shop" is "component:default/shop"). Two refs name the same
// entity when their EntityRefs are equal.
func EntityRef(ref, defaultKind string) string {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return ""
	}
	kind, rest := defaultKind, ref
	if i := strings.Index(ref, ":"); i >= 0 {
		kind, rest = ref[:i], ref[i+1:]
	}
	ns, name := "default", rest
	if i := strings.Index(rest, "/"); i >= 0 {
		ns, name = rest[:i], rest[i+1:]
	}
	return strings.ToLower(kind + ":" + ns + "/" + name)
}
