package infra

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/guardrail"
	"github.com/paved-dev/paved/lease"
	"github.com/paved-dev/paved/permission"
)

// Options are the service's dependencies.
type Options struct {
	Kinds   []Kind
	Drivers map[string]Driver
	Store   Store
	// Sealer encrypts the credentials drivers return.
	Sealer *Sealer
	// Membership resolves group ownership; without it only the owner user
	// (and operators) pass ownership checks.
	Membership Membership
	// MaxTTL bounds the ttl a request may ask for (0: no bound).
	MaxTTL time.Duration
	// Guardrails limit the kinds and sizes each owner may provision,
	// whoever calls; nil: none.
	Guardrails *guardrail.Set
	// Costs checks budgets and keeps the cost ledger; nil: costs are not
	// followed (prices are still shown).
	Costs Costs
	// Leases are the locks of resources, shared by every replica: one call
	// at a time provisions or tears down a resource, and a dead call's lock
	// frees within seconds. nil: locks of this process only.
	Leases lease.Store
	// TTLNotices: the reaper records a torn-down notice to the owner
	// before it tears a resource down (package ttlnotice sends it).
	TTLNotices bool
	Logger     *slog.Logger
	Now        func() time.Time
}

// Service provisions, deprovisions and reaps resources of the loaded kinds.
type Service struct {
	o       Options
	leases  lease.Store
	kinds   map[string]Kind
	order   []string
	schemas schemas
}

// NewService returns a service over the given kinds, each of whose driver
// must be in o.Drivers.
func NewService(o Options) (*Service, error) {
	if o.Store == nil || o.Sealer == nil {
		return nil, fmt.Errorf("infra: the service needs a store and a sealer")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Service{o: o, leases: o.Leases, kinds: map[string]Kind{}}
	if s.leases == nil {
		s.leases = lease.NewMemory()
	}
	for _, k := range o.Kinds {
		if _, ok := o.Drivers[k.Driver]; !ok {
			return nil, fmt.Errorf("infra: kind %q needs driver %q, which is not configured", k.Name, k.Driver)
		}
		if _, dup := s.kinds[k.Name]; dup {
			return nil, fmt.Errorf("infra: kind %q defined twice", k.Name)
		}
		s.kinds[k.Name] = k
		s.order = append(s.order, k.Name)
	}
	sort.Strings(s.order)
	return s, nil
}

// Kinds returns the golden paths, sorted by name.
func (s *Service) Kinds() []Kind {
	out := make([]Kind, 0, len(s.order))
	for _, n := range s.order {
		out = append(out, s.kinds[n])
	}
	return out
}

// Request asks for one resource.
type Request struct {
	Kind       string
	Name       string
	Owner      string // defaults to the calling user
	Parameters map[string]any
	TTL        time.Duration // 0: the resource does not expire
	EntityRef  string
	// Approval is the id of the approved request this provisioning carries
	// out (package approval). Its requester's permission and budget were
	// checked when it was made and an approver accepted it: neither is
	// checked again; the guardrails are. Set by paved only, never from input.
	Approval string
}

var ownerRE = regexp.MustCompile(`^(user|group):([a-z0-9][-a-z0-9_.]*/)?[a-z0-9][-a-z0-9_.]*$`)

// Provision creates the resource req asks for. Asking again for a resource
// that exists with the same owner and parameters returns it with created
// false; anything else under the same kind and name is a conflict.
//
// A provisioning is a recorded, resumable sequence keyed by the resource's
// id: the record (status provisioning) is written first, under the lock of
// kind/name, and the driver marks what it creates with that id. A call that
// finds a provisioning record under the lock knows its provisioner is gone
// (it would hold the lock) and takes over: the same request adopts and
// finishes the dead attempt's work; another request undoes it first. A
// failed provisioning leaves nothing behind: what is marked for the record is
// torn down and the record removed; if the teardown itself fails, the record
// stays (provisioning) for the next call, the sweep or a deprovisioning.
func (s *Service) Provision(ctx context.Context, req Request) (Resource, bool, error) {
	p, _ := paved.PrincipalFrom(ctx)
	k, params, owner, err := s.check(ctx, req)
	if err != nil {
		return Resource{}, false, err
	}
	if err := s.o.Guardrails.CheckInfra(k.Name, owner, params); err != nil {
		return Resource{}, false, err
	}
	if req.Approval == "" {
		if err := s.authorizeProvision(ctx, k, params, owner); err != nil {
			return Resource{}, false, err
		}
	}
	l, wctx, err := s.lock(ctx, k.Name, req.Name, provisionWait)
	if err != nil {
		return Resource{}, false, err
	}
	defer l.Release()
	existing, err := s.o.Store.FindInfraResource(wctx, k.Name, req.Name)
	found := err == nil
	if err != nil && paved.ErrorCode(err) != paved.ENotFound {
		return Resource{}, false, err
	}
	same := found && existing.Owner == owner && reflect.DeepEqual(normalize(existing.Parameters), normalize(params))
	var r Resource
	switch {
	case found && existing.Status == StatusReady && same:
		return existing, false, nil
	case found && existing.Status == StatusReady:
		return Resource{}, false, paved.Errorf(paved.EConflict, "%s %q already exists (owner %s) with other parameters", k.Name, req.Name, existing.Owner)
	case found && existing.Status == StatusProvisioning && same:
		// A dead attempt of this very request: adopt what it made.
		s.o.Logger.InfoContext(ctx, "resuming an interrupted provisioning", "resource", existing.ID, "kind", k.Name, "name", req.Name)
		r = existing
	case found:
		// A dead attempt of another request, or a teardown that did not
		// finish: finish tearing it down, then provision this one.
		s.o.Logger.InfoContext(ctx, "tearing down an interrupted "+strings.TrimSuffix(existing.Status, "ing")+"ing before provisioning", "resource", existing.ID, "kind", k.Name, "name", req.Name)
		if err := s.teardown(wctx, l, existing, OpDeprovision, "paved:recovery"); err != nil {
			return Resource{}, false, err
		}
	}
	resumed := r.ID != ""
	if !resumed {
		now := s.o.Now().UTC()
		r = Resource{
			ID: NewID(), Kind: k.Name, Name: req.Name, Driver: k.Driver, Owner: owner, CreatedBy: actor(p),
			EntityRef: req.EntityRef, Parameters: params, Status: StatusProvisioning, CreatedAt: now, UpdatedAt: now,
		}
		if req.TTL > 0 {
			r.ExpiresAt = now.Add(req.TTL)
		}
		if err := s.claim(wctx, k, r, req.Approval != ""); err != nil {
			return Resource{}, false, err
		}
	}
	start := s.o.Now()
	done, err := s.provision(wctx, l, k, r, resumed)
	s.record(ctx, r, OpProvision, actor(p), start, err)
	if err != nil {
		return Resource{}, false, err
	}
	return done, true, nil
}

// Admit checks req as Provision would before it provisions (its fields,
// the guardrails, the caller's permission) and returns it with its owner
// and parameter defaults filled in.
func (s *Service) Admit(ctx context.Context, req Request) (Request, error) {
	k, params, owner, err := s.check(ctx, req)
	if err != nil {
		return Request{}, err
	}
	if err := s.o.Guardrails.CheckInfra(k.Name, owner, params); err != nil {
		return Request{}, err
	}
	if err := s.authorizeProvision(ctx, k, params, owner); err != nil {
		return Request{}, err
	}
	req.Kind, req.Owner, req.Parameters = k.Name, owner, params
	return req, nil
}

// provisionWait bounds how long a call waits for another call on the same
// resource (the same request being provisioned, a teardown) before it
// answers 503 with a Retry-After: well under Backstage's HTTP limit. A dead
// holder's lock is free within lease.DefaultTTL.
const provisionWait = 45 * time.Second

// lock takes the lock of kind/name that every provisioning and teardown of
// that resource holds, on every replica.
func (s *Service) lock(ctx context.Context, kind, name string, wait time.Duration) (*lease.Lock, context.Context, error) {
	return lease.Acquire(ctx, s.leases, "infra:"+kind+"/"+name, lease.Options{Wait: wait,
		Busy: fmt.Sprintf("%s %q is being provisioned or torn down by another call", kind, name)})
}

func (s *Service) provision(ctx context.Context, l *lease.Lock, k Kind, r Resource, resumed bool) (Resource, error) {
	d := s.o.Drivers[k.Driver]
	out, err := d.Provision(ctx, k, r)
	if err != nil && !resumed {
		// A driver leaves nothing behind when it fails (Driver.Provision);
		// only a dead attempt's work, when resuming, needs a teardown.
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		s.forget(cleanup, r.ID)
		return Resource{}, err
	}
	if err == nil {
		r.Status, r.UpdatedAt = StatusReady, s.o.Now().UTC()
		r.Commit, r.Branch, r.CompareURL, r.Details = out.Commit, out.Branch, out.CompareURL, out.Details
		if len(out.Credentials) > 0 {
			plain, merr := json.Marshal(out.Credentials)
			if merr == nil {
				r.Secret, err = s.o.Sealer.Seal(plain, []byte(r.ID))
			} else {
				err = merr
			}
		}
	}
	if err == nil {
		// The fence: a caller whose lock was taken over must not mark ready
		// what the new holder may be tearing down.
		err = l.Fence(ctx)
	}
	if err == nil {
		err = s.o.Store.UpdateInfraResource(ctx, r)
	}
	if err != nil {
		s.undo(ctx, k, r)
		return Resource{}, err
	}
	return r, nil
}

// undo tears down what a failed provisioning made for r and removes its
// record, even when the caller hung up. When the teardown fails the record
// stays, so what is left is never without a record: the next call on that
// kind/name, the sweep or a deprovisioning finishes it.
func (s *Service) undo(ctx context.Context, k Kind, r Resource) {
	cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := s.o.Drivers[k.Driver].Deprovision(cleanup, k, r); err != nil && paved.ErrorCode(err) != paved.EConflict {
		// A conflict means objects of that name that are not this
		// resource's: left alone, and nothing of r's remains.
		s.o.Logger.ErrorContext(ctx, "undoing a failed provisioning failed; the record stays for a later try", "resource", r.ID, "error", err)
		return
	}
	s.forget(cleanup, r.ID)
}

// check validates a request and returns its kind, its parameters with
// defaults, and its owner; every bad field is reported at once.
func (s *Service) check(ctx context.Context, req Request) (Kind, map[string]any, string, error) {
	var bad []paved.FieldError
	k, ok := s.kinds[req.Kind]
	if !ok {
		bad = append(bad, fieldsf("kind", "unknown infrastructure kind %q (available: %s)", paved.Truncate(req.Kind, 64), strings.Join(s.order, ", ")))
	}
	if !ValidName(req.Name) {
		bad = append(bad, fieldsf("name", "must match %s: lower-case letters, digits and '-', starting with a letter, at most 40 characters", NamePattern))
	}
	owner := req.Owner
	if owner == "" {
		if p, _ := paved.PrincipalFrom(ctx); p.User != "" {
			owner = p.User
		}
	}
	owner = strings.ToLower(owner)
	switch {
	case owner == "":
		bad = append(bad, fieldsf("owner", "is required when the call is not made on behalf of a user"))
	case !ownerRE.MatchString(owner):
		bad = append(bad, fieldsf("owner", "must be a user or group entity ref such as group:default/payments"))
	}
	if !strings.Contains(owner, "/") && owner != "" {
		kindPart, name, _ := strings.Cut(owner, ":")
		owner = kindPart + ":default/" + name
	}
	if req.TTL < 0 || (s.o.MaxTTL > 0 && req.TTL > s.o.MaxTTL) {
		bad = append(bad, fieldsf("ttl", "must be positive and at most %s", s.o.MaxTTL))
	}
	var params map[string]any
	if ok {
		params = withDefaults(k, req.Parameters)
		bad = append(bad, s.schemas.validate(k, params)...)
	}
	if len(bad) > 0 {
		return Kind{}, nil, "", paved.InvalidFields(bad...)
	}
	return k, params, owner, nil
}

// Deprovision removes a resource when the caller owns it (or is an
// operator), whatever state a dead call left it in.
func (s *Service) Deprovision(ctx context.Context, id string) (Resource, error) {
	r, err := s.o.Store.GetInfraResource(ctx, id)
	if err != nil {
		return Resource{}, err
	}
	if err := s.mayDo(ctx, r, permission.InfraDeprovision, false); err != nil {
		return Resource{}, err
	}
	l, wctx, err := s.lock(ctx, r.Kind, r.Name, provisionWait)
	if err != nil {
		return Resource{}, err
	}
	defer l.Release()
	// Under the lock: a teardown that went before is seen, the driver runs once.
	if r, err = s.o.Store.GetInfraResource(wctx, id); err != nil {
		return Resource{}, err
	}
	p, _ := paved.PrincipalFrom(ctx)
	return r, s.teardown(wctx, l, r, OpDeprovision, actor(p))
}

// FindID returns the id of the resource of a kind with a name.
func (s *Service) FindID(ctx context.Context, kind, name string) (string, error) {
	r, err := s.o.Store.FindInfraResource(ctx, kind, name)
	if err != nil {
		return "", err
	}
	return r.ID, nil
}

// teardown removes r, whose lock l the caller holds: the status becomes
// deprovisioning (so a kill from here on is finished by the next call), the
// driver tears down what is marked for r, and the record goes.
func (s *Service) teardown(ctx context.Context, l *lease.Lock, r Resource, op, who string) error {
	k, ok := s.kinds[r.Kind]
	if !ok {
		return paved.Errorf(paved.EConflict, "the kind %q of %s is no longer configured; it cannot be deprovisioned", r.Kind, r.Name)
	}
	if op == OpReap && s.o.TTLNotices {
		// Recorded first, so that a kill anywhere in the teardown cannot
		// lose it; it is sent once the resource is gone.
		if _, err := s.o.Store.RecordInfraNotice(ctx, Notice{
			ID: NewID(), ResourceID: r.ID, Kind: r.Kind, Name: r.Name, Owner: r.Owner,
			Notice: NoticeTornDown, ExpiresAt: r.ExpiresAt, CreatedAt: s.o.Now().UTC(),
		}); err != nil {
			return err
		}
	}
	start := s.o.Now()
	prev := r.Status
	r.Status, r.UpdatedAt = StatusDeprovisioning, s.o.Now().UTC()
	if err := s.o.Store.UpdateInfraResource(ctx, r); err != nil {
		return err
	}
	err := s.o.Drivers[k.Driver].Deprovision(ctx, k, r)
	if paved.ErrorCode(err) == paved.EConflict && prev != StatusReady {
		// Objects of that name that are not r's, left alone: r was never
		// ready, and nothing of it remains.
		s.o.Logger.WarnContext(ctx, "tearing down an unfinished resource left objects that are not its own", "resource", r.ID, "error", paved.ErrorMessage(err))
		err = nil
	}
	cleanup := context.WithoutCancel(ctx)
	if err == nil {
		err = l.Fence(ctx)
	}
	if err != nil {
		if prev != StatusDeprovisioning {
			r.Status = prev
			if uerr := s.o.Store.UpdateInfraResource(cleanup, r); uerr != nil {
				s.o.Logger.ErrorContext(ctx, "restoring a resource's status", "resource", r.ID, "error", uerr)
			}
		}
	} else if err = s.o.Store.DeleteInfraResource(cleanup, r.ID); err == nil && s.o.Costs != nil {
		// A crash before this line leaves the entry open; the ledger's
		// reconciliation closes entries whose resource is gone.
		if cerr := s.o.Costs.Closed(cleanup, r.ID); cerr != nil {
			s.o.Logger.ErrorContext(ctx, "closing the cost ledger entry of a torn-down resource", "resource", r.ID, "error", cerr)
		}
	}
	s.record(ctx, r, op, who, start, err)
	return err
}

// Connection returns the decrypted credentials of a resource to its owner: a
// Backstage user who is the owner or a member of the owner group.
func (s *Service) Connection(ctx context.Context, id string) (map[string]string, Resource, error) {
	r, err := s.o.Store.GetInfraResource(ctx, id)
	if err != nil {
		return nil, Resource{}, err
	}
	if err := s.mayDo(ctx, r, permission.InfraConnectionRead, true); err != nil {
		return nil, Resource{}, err
	}
	if len(r.Secret) == 0 {
		return nil, Resource{}, paved.Errorf(paved.ENotFound, "%s %q has no connection details", r.Kind, r.Name)
	}
	plain, err := s.o.Sealer.Open(r.Secret, []byte(r.ID))
	if err != nil {
		return nil, Resource{}, err
	}
	var creds map[string]string
	if err := json.Unmarshal(plain, &creds); err != nil {
		return nil, Resource{}, err
	}
	d, ok := s.o.Drivers[r.Driver]
	if !ok {
		return nil, Resource{}, paved.Errorf(paved.EUnavailable, "the %s driver of %s %q is no longer configured; its connection details may not hold", r.Driver, r.Kind, r.Name)
	}
	if c, ok := d.(Connector); ok {
		if creds, err = c.Connection(ctx, r, creds); err != nil {
			return nil, Resource{}, err
		}
	}
	return creds, r, nil
}

func (s *Service) record(ctx context.Context, r Resource, op, who string, start time.Time, err error) {
	pr := Provisioning{
		ID: NewID(), ResourceID: r.ID, Kind: r.Kind, Name: r.Name, Operation: op, Actor: who,
		Status: paved.StatusSucceeded, StartedAt: start.UTC(), Duration: s.o.Now().Sub(start),
	}
	if err != nil {
		pr.Status, pr.Error = paved.StatusFailed, paved.ErrorMessage(err)
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if rerr := s.o.Store.RecordInfraProvisioning(rctx, pr); rerr != nil {
		s.o.Logger.ErrorContext(ctx, "recording a provisioning failed", "resource", r.ID, "error", rerr)
	}
}

func actor(p paved.Principal) string {
	if p.User != "" {
		return p.User
	}
	if p.Subject != "" {
		return string(p.Kind) + ":" + p.Subject
	}
	return ""
}

// normalize makes parameters from the store and from a request comparable
// (numbers as float64, as JSON decodes them).
func normalize(m map[string]any) map[string]any {
	raw, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

// NewID returns a random (version 4) UUID, the id of resources and requests.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
