// Package paved holds the domain of paved: who calls it, what an action
// invocation is, what an Argo CD application request looks like, and the
// errors every layer speaks. It imports no framework, database or client.
package paved

import (
	"context"
	"encoding/json"
	"time"
)

// Version is set at build time with -ldflags "-X github.com/paved-dev/paved.Version=…".
var Version = "dev"

// PrincipalKind says how a caller proved who it is.
type PrincipalKind string

const (
	PrincipalPlugin PrincipalKind = "plugin" // a Backstage plugin token (e.g. the scaffolder)
	PrincipalUser   PrincipalKind = "user"   // a Backstage user token
	PrincipalStatic PrincipalKind = "static" // a static token configured in paved
)

// Principal is the authenticated caller of a request.
type Principal struct {
	Kind PrincipalKind `json:"kind"`
	// Subject is the calling plugin id, or the static token's subject, or the
	// user entity ref for user tokens.
	Subject string `json:"subject"`
	// User is the user entity ref on whose behalf the call is made
	// ("user:default/jane"), from the plugin token's obo claim or the user token.
	User string `json:"user,omitempty"`
	// Groups the user belongs to, when known (filled lazily by features that need it).
	Groups []string `json:"-"`
	// OnBehalfOf is the token that identifies User to Backstage's permission
	// backend: the limited user token of the obo claim or derived from the
	// user token. A credential: never logged, never serialized.
	OnBehalfOf string `json:"-"`
}

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal stored in ctx.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Invocation is one call of an action: the audit log and the raw data of the
// adoption metrics. It never holds secrets.
type Invocation struct {
	ID           string          `json:"id"`
	ActionID     string          `json:"actionId"`
	CallerKind   PrincipalKind   `json:"callerKind"`
	CallerPlugin string          `json:"callerPlugin"`
	UserRef      string          `json:"userRef,omitempty"`
	EntityRef    string          `json:"entityRef,omitempty"`
	TemplateRef  string          `json:"templateRef,omitempty"`
	TaskID       string          `json:"taskId,omitempty"`
	Status       string          `json:"status"` // succeeded | failed
	ErrorCode    Code            `json:"errorCode,omitempty"`
	Error        string          `json:"error,omitempty"`
	StartedAt    time.Time       `json:"startedAt"`
	Duration     time.Duration   `json:"-"`                // in JSON as durationMs, whole milliseconds
	Output       json.RawMessage `json:"output,omitempty"` // a summary, never secrets
}

// MarshalJSON writes Duration as durationMs in milliseconds, as its name says
// (time.Duration alone would be nanoseconds).
func (i Invocation) MarshalJSON() ([]byte, error) {
	type plain Invocation
	return json.Marshal(struct {
		plain
		DurationMs int64 `json:"durationMs"`
	}{plain(i), i.Duration.Milliseconds()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (i *Invocation) UnmarshalJSON(b []byte) error {
	type plain Invocation
	var v struct {
		plain
		DurationMs int64 `json:"durationMs"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*i = Invocation(v.plain)
	i.Duration = time.Duration(v.DurationMs) * time.Millisecond
	return nil
}

// Invocation statuses.
const (
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
)

// InvocationFilter selects invocations from the audit log.
type InvocationFilter struct {
	ActionID string
	// UserRef is the user the call was made by or for; Status succeeded or failed.
	UserRef string
	Status  string
	Since   time.Time
	Until   time.Time
	// After continues a listing after the invocation it names (the last of
	// the previous page): those started before it, or at the same time with
	// a smaller ID.
	After *InvocationCursor
	Limit int
}

// InvocationCursor is where a page of the audit log ended.
type InvocationCursor struct {
	StartedAt time.Time
	ID        string
}

// SigningKey is one of paved's own ES256 keys, used to sign the plugin tokens
// paved sends to Backstage and published in its JWKS. The private key stays in
// the store; only the public half leaves paved.
type SigningKey struct {
	KID           string
	PrivateKeyPEM []byte // PKCS#8, PEM-encoded
	CreatedAt     time.Time
	// RetiredAt is set when a newer key replaced this one; the key is still
	// published until every token it signed has expired.
	RetiredAt time.Time
}

// Sleep waits for d, or returns ctx's error as soon as ctx ends.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
