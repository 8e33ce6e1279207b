// Package scaffolder holds paved's scaffolder actions: their published
// schemas, the registry that lists and invokes them, and the handlers. It
// depends on narrow interfaces, never on a client library.
package scaffolder

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/permission"
)

// Attributes tell Backstage how an action behaves; the scaffolder dry-runs
// only actions that are readOnly and not destructive.
type Attributes struct {
	Destructive bool `json:"destructive"`
	Idempotent  bool `json:"idempotent"`
	ReadOnly    bool `json:"readOnly"`
}

// Example shows a template author how to call an action.
type Example struct {
	Description string `json:"description"`
	// Example is the step as YAML, the form Backstage's scaffolder documents.
	Example string         `json:"example"`
	Input   map[string]any `json:"input"`
}

// Handler runs an action on validated input and returns its output object.
// Every top-level key of the output becomes a step output in Backstage.
type Handler func(ctx context.Context, in Input) (map[string]any, error)

// Input is what a handler receives: the validated raw input and the secrets
// passed by the caller (v2 invoke).
type Input struct {
	Raw     json.RawMessage
	Secrets map[string]string
}

// Decode unmarshals the validated input into v.
func (in Input) Decode(v any) error {
	if err := json.Unmarshal(in.Raw, v); err != nil {
		return paved.Errorf(paved.EInvalid, "input: %v", err)
	}
	return nil
}

// Action is one scaffolder action paved serves.
type Action struct {
	Name        string
	Title       string
	Description string
	Attributes  Attributes
	Examples    []Example
	Input       Schema
	Output      Schema
	// Secrets is the schema of the secrets the action needs (v2 invoke's
	// "secrets", as Backstage's actions registry declares them); nil: the
	// action accepts none, and a call that sends some is refused.
	Secrets Schema
	Handler Handler
	// Summarize returns the part of an output worth keeping in the audit log
	// (nil keeps the whole output). It must drop anything secret.
	Summarize func(out map[string]any) map[string]any
}

// Recorder keeps the audit log of invocations.
type Recorder interface {
	RecordInvocation(ctx context.Context, inv paved.Invocation) (paved.Invocation, error)
}

// Registry lists and invokes actions. Listing is cheap: the scaffolder fetches
// the list on every task, so the JSON is built once per registration.
type Registry struct {
	authorizer paved.Authorizer
	pluginID   string
	recorder   Recorder
	logger     *slog.Logger
	tracer     trace.Tracer
	now        func() time.Time

	invocations metric.Int64Counter
	duration    metric.Float64Histogram

	mu       sync.RWMutex
	actions  map[string]*registered
	listJSON []byte
	// The listed actions in list order, each as JSON, with the permission
	// that shows it, for lists filtered per caller.
	listed      []json.RawMessage
	listedPerms []paved.Permission
}

type registered struct {
	Action
	id         string
	permission paved.Permission // paved.action.<name>.invoke
	input      compiledSchema
	output     compiledSchema
	secrets    *compiledSchema // nil: accepts none
	// The metric attributes of each result, built once.
	succeeded metric.MeasurementOption
}

// RegistryOptions are the registry's dependencies.
type RegistryOptions struct {
	PluginID string
	// Authorizer decides for calls whose context brings none (the HTTP
	// server puts its own in every request); default paved's own default policy.
	Authorizer paved.Authorizer
	Recorder   Recorder
	Logger     *slog.Logger
	Meter      metric.Meter
	Tracer     trace.Tracer
	Now        func() time.Time
}

// DurationBuckets are histogram boundaries in seconds for actions that may wait
// for a rollout: from 5 ms to an hour.
var DurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}

// NewRegistry returns an empty registry.
func NewRegistry(o RegistryOptions) (*Registry, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Authorizer == nil {
		policy, err := permission.NewPolicy(nil, permission.Readers{})
		if err != nil {
			return nil, err
		}
		o.Authorizer = permission.New(permission.Options{Decider: policy})
	}
	r := &Registry{authorizer: o.Authorizer, pluginID: o.PluginID, recorder: o.Recorder, logger: o.Logger, tracer: o.Tracer, now: o.Now, actions: map[string]*registered{}}
	if r.tracer == nil {
		r.tracer = noop.NewTracerProvider().Tracer("paved/scaffolder")
	}
	if o.Meter != nil {
		var err error
		r.invocations, err = o.Meter.Int64Counter("devex.action.invocations",
			metric.WithUnit("{invocation}"), metric.WithDescription("Invocations of paved's scaffolder actions, by action and result."))
		if err != nil {
			return nil, err
		}
		r.duration, err = o.Meter.Float64Histogram("devex.action.duration",
			metric.WithUnit("s"), metric.WithDescription("Duration of paved's scaffolder actions, by action and result."),
			metric.WithExplicitBucketBoundaries(DurationBuckets...))
		if err != nil {
			return nil, err
		}
	}
	r.listJSON, _ = json.Marshal(map[string]any{"actions": []any{}})
	return r, nil
}

// Register adds actions; their schemas are compiled once here.
func (r *Registry) Register(actions ...Action) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range actions {
		id := r.pluginID + ":" + a.Name
		if _, dup := r.actions[id]; dup {
			return fmt.Errorf("action %s registered twice", id)
		}
		in, err := compile(a.Name+".input", a.Input)
		if err != nil {
			return err
		}
		out, err := compile(a.Name+".output", a.Output)
		if err != nil {
			return err
		}
		var sec *compiledSchema
		if a.Secrets != nil {
			c, err := compile(a.Name+".secrets", a.Secrets)
			if err != nil {
				return err
			}
			sec = &c
		}
		for i, ex := range a.Examples {
			if err := in.validate(ex.Input); err != nil {
				return fmt.Errorf("action %s example %d does not match its own input schema: %w", id, i, err)
			}
		}
		r.actions[id] = &registered{Action: a, id: id, input: in, output: out, secrets: sec,
			permission: permission.ActionInvoke(a.Name, a.Attributes.ReadOnly, a.Attributes.Destructive),
			succeeded:  metric.WithAttributeSet(attribute.NewSet(attribute.String("action", id), attribute.String("result", "success")))}
	}
	return r.rebuildList()
}

type listedAction struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Title       string     `json:"title"`
	Description string     `json:"description"`
	PluginID    string     `json:"pluginId"`
	Attributes  Attributes `json:"attributes"`
	Examples    []Example  `json:"examples"`
	Schema      struct {
		Input   Schema `json:"input"`
		Output  Schema `json:"output"`
		Secrets Schema `json:"secrets,omitempty"`
	} `json:"schema"`
}

func (r *Registry) rebuildList() error {
	ids := make([]string, 0, len(r.actions))
	for id := range r.actions {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	list := make([]listedAction, 0, len(ids))
	r.listed, r.listedPerms = r.listed[:0], r.listedPerms[:0]
	for _, id := range ids {
		a := r.actions[id]
		la := listedAction{ID: id, Name: a.Name, Title: a.Title, Description: a.Description, PluginID: r.pluginID, Attributes: a.Attributes, Examples: a.Examples}
		if la.Examples == nil {
			la.Examples = []Example{}
		}
		la.Schema.Input, la.Schema.Output, la.Schema.Secrets = a.Input, a.Output, a.Secrets
		list = append(list, la)
		one, err := json.Marshal(la)
		if err != nil {
			return err
		}
		r.listed, r.listedPerms = append(r.listed, one), append(r.listedPerms, a.permission)
	}
	b, err := json.Marshal(map[string]any{"actions": list})
	if err != nil {
		return err
	}
	r.listJSON = b
	return nil
}

// ListJSON returns the body of GET .backstage/actions/v1/actions.
func (r *Registry) ListJSON() []byte {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.listJSON
}

// ListJSONFor returns the action list as the caller of ctx may see it: the
// actions whose invoke permission the caller's policy does not deny, like
// Backstage's visibilityPermission. Service principals see every action.
func (r *Registry) ListJSONFor(ctx context.Context) ([]byte, error) {
	a, ok := paved.AuthorizerFrom(ctx)
	if !ok {
		return r.ListJSON(), nil
	}
	r.mu.RLock()
	full, listed, perms := r.listJSON, r.listed, r.listedPerms
	r.mu.RUnlock()
	allowed, err := a.Allowed(ctx, perms)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(allowed, false) {
		return full, nil
	}
	var b bytes.Buffer
	b.WriteString(`{"actions":[`)
	first := true
	for i, one := range listed {
		if !allowed[i] {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.Write(one)
	}
	b.WriteString(`]}`)
	return b.Bytes(), nil
}

// Permissions returns the invoke permission of every action, sorted by action id.
func (r *Registry) Permissions() []paved.Permission {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.listedPerms)
}

// IDs returns the ids of the registered actions, sorted.
func (r *Registry) IDs() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ids := make([]string, 0, len(r.actions))
	for id := range r.actions {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Invoke validates input against the action's published schema, runs the
// handler and records the invocation. input must be a JSON object.
func (r *Registry) Invoke(ctx context.Context, id string, input json.RawMessage, secrets map[string]string) (map[string]any, error) {
	r.mu.RLock()
	a, ok := r.actions[id]
	r.mu.RUnlock()
	if !ok {
		return nil, paved.Errorf(paved.ENotFound, "action %.100q not found; paved serves %s", id, strings.Join(r.IDs(), ", ")) // cut: the id is the caller's
	}
	if _, ok := paved.AuthorizerFrom(ctx); !ok {
		ctx = paved.WithAuthorizer(ctx, r.authorizer)
	}
	ctx, span := r.tracer.Start(ctx, "action "+id, trace.WithAttributes(attribute.String("paved.action", id)))
	defer span.End()
	start := r.now()
	var (
		out, valid map[string]any
		err        error
	)
	// A refusal is recorded like any failed call, with the rule that refused it.
	if err = paved.Authorize(ctx, a.permission, nil); err == nil {
		out, valid, err = r.run(ctx, a, input, secrets)
	}
	elapsed := r.now().Sub(start)
	attrs := a.succeeded
	if err != nil {
		// error.type (OTel's convention) is the error's code: availability
		// objectives count only paved's own failures (5xx) as bad.
		attrs = metric.WithAttributes(attribute.String("action", a.id), attribute.String("result", "failure"),
			attribute.String("error.type", string(paved.ErrorCode(err))))
		span.SetStatus(codes.Error, paved.ErrorMessage(err))
		span.SetAttributes(attribute.String("paved.error_code", string(paved.ErrorCode(err))))
	}
	if r.invocations != nil {
		r.invocations.Add(ctx, 1, attrs)
		r.duration.Record(ctx, elapsed.Seconds(), attrs)
	}
	r.record(ctx, a, start, elapsed, input, valid, out, err)
	return out, err
}

// run returns the handler's output and, once the input passed its schema,
// the decoded input.
func (r *Registry) run(ctx context.Context, a *registered, input json.RawMessage, secrets map[string]string) (map[string]any, map[string]any, error) {
	decoded, err := decodeObject(input)
	if err != nil {
		return nil, nil, err
	}
	odd := oddValues(decoded, "", nil)
	if err := a.input.validate(decoded); err != nil {
		var pe *paved.Error
		if len(odd) > 0 && errors.As(err, &pe) {
			return nil, nil, paved.InvalidFields(append(pe.Fields, odd...)...) // every bad field in one answer
		}
		return nil, nil, err
	}
	if len(odd) > 0 {
		return nil, nil, paved.InvalidFields(odd...)
	}
	if err := a.checkSecrets(secrets); err != nil {
		return nil, nil, err
	}
	if len(bytes.TrimSpace(input)) == 0 {
		input = json.RawMessage("{}") // no input is the empty object, for the handler as for the schema
	}
	out, err := a.Handler(ctx, Input{Raw: input, Secrets: secrets})
	if err != nil {
		return nil, decoded, err
	}
	// A handler whose output breaks its own schema is a bug in paved, not a
	// caller's mistake: log it, and still answer so the template goes on.
	if v, ok := asJSON(out); ok {
		if verr := a.output.validate(v); verr != nil {
			r.logger.Error("action output does not match its schema", "action", a.id, "error", verr)
		}
	}
	return out, decoded, nil
}

// asJSON returns v as decodeObject would decode its JSON encoding, and
// false when v cannot be encoded. Outputs are made of strings, booleans,
// numbers, lists and maps: those are converted directly, anything else goes
// through encoding/json.
func asJSON(v map[string]any) (map[string]any, bool) {
	if out, ok := jsonValue(v); ok {
		return out.(map[string]any), true
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	obj, err := decodeObject(raw)
	return obj, err == nil
}

// jsonValue converts the common Go values to their decoded JSON form
// (json.Number for numbers); ok is false for anything else, or a string
// that JSON would not keep as it is (invalid UTF-8).
func jsonValue(v any) (any, bool) {
	switch v := v.(type) {
	case nil, bool:
		return v, true
	case string:
		return v, utf8.ValidString(v)
	case int:
		return json.Number(strconv.Itoa(v)), true
	case int64:
		return json.Number(strconv.FormatInt(v, 10)), true
	case json.Number:
		return v, true
	case []string:
		out := make([]any, len(v))
		for i, s := range v {
			if !utf8.ValidString(s) {
				return nil, false
			}
			out[i] = s
		}
		return out, true
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			var ok bool
			if out[i], ok = jsonValue(e); !ok {
				return nil, false
			}
		}
		return out, true
	case map[string]string:
		out := make(map[string]any, len(v))
		for k, s := range v {
			if !utf8.ValidString(k) || !utf8.ValidString(s) {
				return nil, false
			}
			out[k] = s
		}
		return out, true
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			ev, ok := jsonValue(e)
			if !ok || !utf8.ValidString(k) {
				return nil, false
			}
			out[k] = ev
		}
		return out, true
	}
	return nil, false
}

// decodeObject decodes a JSON object as the schema validator wants it
// (json.Number for numbers) and refuses anything that is not one object.
func decodeObject(raw json.RawMessage) (map[string]any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, paved.Errorf(paved.EInvalid, "input: not valid JSON: %v", err)
	}
	if dec.More() {
		return nil, paved.Errorf(paved.EInvalid, "input: more than one JSON value")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, paved.Errorf(paved.EInvalid, "input: must be a JSON object")
	}
	return obj, nil
}

func (r *Registry) record(ctx context.Context, a *registered, start time.Time, elapsed time.Duration, input json.RawMessage, valid, out map[string]any, err error) {
	if r.recorder == nil {
		return
	}
	inv := paved.Invocation{ActionID: a.id, StartedAt: start, Duration: elapsed, Status: paved.StatusSucceeded}
	if p, ok := paved.PrincipalFrom(ctx); ok {
		inv.CallerKind, inv.CallerPlugin, inv.UserRef = p.Kind, p.Subject, p.User
	}
	if valid != nil {
		// Input that passed its schema was decoded already; its keys are exact.
		inv.EntityRef, _ = valid["entityRef"].(string)
		inv.TemplateRef, _ = valid["templateRef"].(string)
		inv.TaskID, _ = valid["taskId"].(string)
	} else {
		var refs struct {
			EntityRef   string `json:"entityRef"`
			TemplateRef string `json:"templateRef"`
			TaskID      string `json:"taskId"`
		}
		_ = json.Unmarshal(input, &refs)
		inv.EntityRef, inv.TemplateRef, inv.TaskID = auditText(refs.EntityRef, 255), auditText(refs.TemplateRef, 255), auditText(refs.TaskID, 128)
	}
	if err != nil {
		inv.Status = paved.StatusFailed
		inv.ErrorCode = paved.ErrorCode(err)
		inv.Error = auditText(paved.ErrorMessage(err), 4096)
	} else {
		summary := out
		if a.Summarize != nil {
			summary = a.Summarize(out)
		}
		inv.Output, _ = json.Marshal(summary)
	}
	// The audit record must outlive a caller that hung up.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, rerr := r.recorder.RecordInvocation(rctx, inv); rerr != nil {
		r.logger.Error("recording invocation failed", "action", a.id, "error", rerr)
	}
}

// auditText is s as the audit log can keep it whatever the caller sent: a
// NUL byte or invalid UTF-8 makes PostgreSQL refuse the whole batch of
// records, and a refused input may be of any length.
func auditText(s string, max int) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", "\uFFFD"), "\uFFFD")
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// checkSecrets applies Backstage's actions registry rules to a call's
// secrets (nil: none sent, as with v1 invoke): an action that declares none
// refuses any, one that declares some requires them, matching its schema.
func (a *registered) checkSecrets(secrets map[string]string) error {
	switch {
	case a.secrets == nil && secrets != nil:
		return paved.InvalidFields(paved.FieldError{Field: "secrets", Message: fmt.Sprintf("action %q does not accept secrets", a.id)})
	case a.secrets != nil && secrets == nil:
		return paved.InvalidFields(paved.FieldError{Field: "secrets", Message: fmt.Sprintf("action %q requires secrets but none were provided (invoke it with v2)", a.id)})
	case a.secrets == nil:
		return nil
	}
	v := make(map[string]any, len(secrets))
	for k, s := range secrets {
		v[k] = s
	}
	if err := a.secrets.validate(v); err != nil {
		var pe *paved.Error
		if errors.As(err, &pe) {
			// The schema's messages may quote a value: name the field only.
			fields := make([]paved.FieldError, len(pe.Fields))
			for i, f := range pe.Fields {
				fields[i] = paved.FieldError{Field: "secrets." + f.Field, Message: "does not match the action's secrets schema"}
				if f.Message == "is required" {
					fields[i].Message = f.Message
				}
			}
			return paved.InvalidFields(fields...)
		}
		return paved.InvalidFields(paved.FieldError{Field: "secrets", Message: "do not match the action's secrets schema"})
	}
	return nil
}
