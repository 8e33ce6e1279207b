// Package infra holds paved's infrastructure golden paths: kinds defined as
// YAML data (a parameter schema, a driver and the driver's template), the
// resources provisioned from them, and the service that provisions, tears
// down and reaps them through drivers. Drivers: manifests (files in the
// GitOps repository, delivered by an Argo CD Application) and, in package
// infra/postgresql, a real database and role on a PostgreSQL server.
package infra

import (
	"context"
	"encoding/json"
	"regexp"
	"time"
)

// Kind is one golden path, loaded from a YAML file.
type Kind struct {
	Name        string `yaml:"name" json:"name"`
	Title       string `yaml:"title" json:"title"`
	Description string `yaml:"description" json:"description"`
	// Owner is the team that maintains the golden path (an entity ref).
	Owner  string `yaml:"owner" json:"owner"`
	Driver string `yaml:"driver" json:"driver"`
	// Type is the spec.type of the Backstage Resource entity of each
	// resource: database, bucket, … (default "infrastructure").
	Type string `yaml:"type" json:"type"`
	// Parameters is the JSON Schema of the parameters a developer picks.
	Parameters map[string]any `yaml:"parameters" json:"parameters"`
	// Price is what a resource costs per month (nil: not priced).
	Price *Price `yaml:"price" json:"price,omitempty"`
	// Template is the driver's template, decoded by the driver.
	Template map[string]any `yaml:"template" json:"-"`
	// File is where the kind was loaded from.
	File string `yaml:"-" json:"-"`
}

// Resource statuses.
const (
	StatusProvisioning   = "provisioning"
	StatusReady          = "ready"
	StatusDeprovisioning = "deprovisioning"
)

// Resource is one provisioned piece of infrastructure.
type Resource struct {
	ID         string            `json:"id"`
	Kind       string            `json:"kind"`
	Name       string            `json:"name"`
	Driver     string            `json:"driver"`
	Owner      string            `json:"owner"`     // user or group entity ref
	CreatedBy  string            `json:"createdBy"` // the user (or plugin) who asked
	EntityRef  string            `json:"entityRef,omitempty"`
	Parameters map[string]any    `json:"parameters"`
	Status     string            `json:"status"`
	Commit     string            `json:"commit,omitempty"`
	Branch     string            `json:"branch,omitempty"`
	CompareURL string            `json:"compareUrl,omitempty"`
	Details    map[string]string `json:"details,omitempty"` // never secret
	// Secret is the sealed credentials (AES-GCM); it never leaves paved
	// except through the owner's connection request.
	Secret    []byte    `json:"-"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

// Operations recorded in the provisioning log.
const (
	OpProvision   = "provision"
	OpDeprovision = "deprovision"
	OpReap        = "reap"
)

// Provisioning is one entry of the provisioning log: who did what to which
// resource, when, how it ended and how long it took.
type Provisioning struct {
	ID         string        `json:"id"`
	ResourceID string        `json:"resourceId"`
	Kind       string        `json:"kind"`
	Name       string        `json:"name"`
	Operation  string        `json:"operation"`
	Actor      string        `json:"actor"`
	Status     string        `json:"status"` // paved.StatusSucceeded | paved.StatusFailed
	Error      string        `json:"error,omitempty"`
	StartedAt  time.Time     `json:"startedAt"`
	Duration   time.Duration `json:"-"` // in JSON as durationMs, whole milliseconds
}

// MarshalJSON writes Duration as durationMs in milliseconds, as its name says.
func (p Provisioning) MarshalJSON() ([]byte, error) {
	type plain Provisioning
	return json.Marshal(struct {
		plain
		DurationMs int64 `json:"durationMs"`
	}{plain(p), p.Duration.Milliseconds()})
}

// Outcome is what a driver reports after provisioning.
type Outcome struct {
	Commit     string
	Branch     string
	CompareURL string
	Details    map[string]string
	// Credentials are sealed by the service before they are stored; a driver
	// must never log them.
	Credentials map[string]string
}

// Driver provisions resources of the kinds that name it.
type Driver interface {
	// Check validates a kind's template when kinds are loaded, so a broken
	// golden path stops paved at start rather than at a developer's request.
	Check(k Kind) error
	// Provision creates the resource. It must leave nothing behind when it
	// fails, and succeed without change when r already exists as asked.
	Provision(ctx context.Context, k Kind, r Resource) (Outcome, error)
	// Deprovision removes the resource; removing what is gone is no error.
	Deprovision(ctx context.Context, k Kind, r Resource) error
}

// ParameterShaper is a driver that derives part of a kind's parameter schema
// from paved's configuration, so that what paved:list-infra-kinds publishes
// offers only what can be provisioned (the postgres driver's regions). It
// returns the schema to use; k.Parameters must not be modified.
type ParameterShaper interface {
	ShapeParameters(k Kind) (map[string]any, error)
}

// Connector is a driver whose connection details depend on where a resource
// was placed: it checks that place is still configured and returns the
// details as they stand (creds are the sealed ones, as provisioned).
type Connector interface {
	Connection(ctx context.Context, r Resource, creds map[string]string) (map[string]string, error)
}

// Store keeps resources and the provisioning log.
type Store interface {
	CreateInfraResource(ctx context.Context, r Resource) error
	GetInfraResource(ctx context.Context, id string) (Resource, error)
	FindInfraResource(ctx context.Context, kind, name string) (Resource, error)
	UpdateInfraResource(ctx context.Context, r Resource) error
	DeleteInfraResource(ctx context.Context, id string) error
	ExpiredInfraResources(ctx context.Context, at time.Time, limit int) ([]Resource, error)
	// UnfinishedInfraResources returns up to limit resources still
	// provisioning or deprovisioning, last changed at or before before.
	UnfinishedInfraResources(ctx context.Context, before time.Time, limit int) ([]Resource, error)
	RecordInfraProvisioning(ctx context.Context, p Provisioning) error
	// RecordInfraNotice stores a notice to send unless one of its type
	// for the same resource and TTL exists; it reports whether it did.
	RecordInfraNotice(ctx context.Context, n Notice) (bool, error)
	// DropInfraNotices removes the unsent notices of a type of a resource.
	DropInfraNotices(ctx context.Context, resourceID, notice string) error
}

// Notices to a resource's owner about its TTL (package ttlnotice sends them).
const (
	// NoticeExpiring: the TTL ends soon; extend it to keep the resource.
	NoticeExpiring = "expiring"
	// NoticeTornDown: the TTL ended and the reaper tore the resource down.
	NoticeTornDown = "torn-down"
)

// Notice is a notice to a resource's owner about one TTL of it, recorded
// before it is sent (an outbox: a kill between the two sends it later).
type Notice struct {
	ID         string
	ResourceID string
	Kind       string
	Name       string
	Owner      string
	Notice     string // NoticeExpiring | NoticeTornDown
	// ExpiresAt is the TTL the notice is about.
	ExpiresAt time.Time
	CreatedAt time.Time
	// Attempts counts the sends tried.
	Attempts int
}

// Membership answers which groups a user belongs to (from the Backstage catalog).
type Membership interface {
	UserGroups(ctx context.Context, userRef string) ([]string, error)
}

// NamePattern is what a resource name must match: a DNS label that is also a
// PostgreSQL identifier once '-' becomes '_', short enough for both.
const NamePattern = `^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$`

var nameRE = regexp.MustCompile(NamePattern)

// ValidName reports whether name is a valid resource name.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// KindNamePattern is what a kind's name must match.
const KindNamePattern = `^[a-z][a-z0-9-]{0,62}$`

var kindNameRE = regexp.MustCompile(KindNamePattern)
