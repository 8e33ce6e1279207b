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
	// Leases serialize the teardowns of one resource across replicas, so that
	// its driver tears it down once; nil: no serialization.
	Leases Leaser
	Logger *slog.Logger
	Now    func() time.Time
}

// Service provisions, deprovisions and reaps resources of the loaded kinds.
type Service struct {
	o       Options
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
	s := &Service{o: o, kinds: map[string]Kind{}}
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
}

var ownerRE = regexp.MustCompile(`^(user|group):([a-z0-9][-a-z0-9_.]*/)?[a-z0-9][-a-z0-9_.]*$`)

// Provision creates the resource req asks for. Asking again for a resource
// that exists with the same owner and parameters returns it with created
// false; anything else under the same kind and name is a conflict. A failed
// provisioning leaves nothing behind: the driver undoes its own work and the
// record is removed.
func (s *Service) Provision(ctx context.Context, req Request) (Resource, bool, error) {
	p, _ := paved.PrincipalFrom(ctx)
	k, params, owner, err := s.check(ctx, req)
	if err != nil {
		return Resource{}, false, err
	}
	// Real time, not s.o.Now: this bounds how long this call waits.
	waitUntil := time.Now().Add(provisionWait)
	var r Resource
	for {
		if res, found, err := s.existing(ctx, k, req.Name, owner, params, waitUntil); found || err != nil {
			return res, false, err
		}
		now := s.o.Now().UTC()
		r = Resource{
			ID: newID(), Kind: k.Name, Name: req.Name, Driver: k.Driver, Owner: owner, CreatedBy: actor(p),
			EntityRef: req.EntityRef, Parameters: params, Status: StatusProvisioning, CreatedAt: now, UpdatedAt: now,
		}
		if req.TTL > 0 {
			r.ExpiresAt = now.Add(req.TTL)
		}
		// The row claims kind/name first: of racing requests one wins here,
		// before any driver work; the others look again at what it claimed.
		err := s.o.Store.CreateInfraResource(ctx, r)
		if paved.ErrorCode(err) == paved.EConflict && time.Now().Before(waitUntil) {
			continue
		}
		if err != nil {
			return Resource{}, false, err
		}
		break
	}
	start := s.o.Now()
	done, err := s.provision(ctx, k, r)
	s.record(ctx, r, OpProvision, actor(p), start, err)
	if err != nil {
		return Resource{}, false, err
	}
	return done, true, nil
}

// existing looks for the resource kind/name and reports whether it answers
// the call: the resource itself when it is the one asked for (found, created
// false), or a conflict. While the same request is being provisioned by
// another call, on this replica or another, it waits for that outcome until
// waitUntil; it returns found false when there is no resource (any more).
func (s *Service) existing(ctx context.Context, k Kind, name, owner string, params map[string]any, waitUntil time.Time) (Resource, bool, error) {
	for {
		existing, err := s.o.Store.FindInfraResource(ctx, k.Name, name)
		if paved.ErrorCode(err) == paved.ENotFound {
			return Resource{}, false, nil
		}
		if err != nil {
			return Resource{}, true, err
		}
		same := existing.Owner == owner && reflect.DeepEqual(normalize(existing.Parameters), normalize(params))
		if same && existing.Status == StatusReady {
			return existing, true, nil
		}
		if same && existing.Status == StatusProvisioning && time.Now().Before(waitUntil) {
			if err := sleepCtx(ctx, provisionPoll); err != nil {
				return Resource{}, true, err
			}
			continue
		}
		if existing.Status != StatusReady {
			return Resource{}, true, paved.Errorf(paved.EConflict, "%s %q is being %s; try again shortly", k.Name, name, strings.TrimSuffix(existing.Status, "ing")+"ed")
		}
		return Resource{}, true, paved.Errorf(paved.EConflict, "%s %q already exists (owner %s) with other parameters", k.Name, name, existing.Owner)
	}
}

// provisionWait bounds how long a call waits for the same request being
// provisioned by another; provisionPoll is how often it looks.
const (
	provisionWait = 2 * time.Minute
	provisionPoll = 100 * time.Millisecond
)

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (s *Service) provision(ctx context.Context, k Kind, r Resource) (Resource, error) {
	d := s.o.Drivers[k.Driver]
	// Clean-up must run even when the caller hung up.
	cleanup := context.WithoutCancel(ctx)
	out, err := d.Provision(ctx, k, r)
	if err != nil {
		if derr := s.o.Store.DeleteInfraResource(cleanup, r.ID); derr != nil {
			s.o.Logger.ErrorContext(ctx, "removing the record of a failed provisioning", "resource", r.ID, "error", derr)
		}
		return Resource{}, err
	}
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
	if err == nil {
		err = s.o.Store.UpdateInfraResource(ctx, r)
	}
	if err != nil {
		if derr := d.Deprovision(cleanup, k, r); derr != nil {
			s.o.Logger.ErrorContext(ctx, "undoing a provisioning that could not be recorded", "resource", r.ID, "error", derr)
		}
		if derr := s.o.Store.DeleteInfraResource(cleanup, r.ID); derr != nil {
			s.o.Logger.ErrorContext(ctx, "removing the record of a failed provisioning", "resource", r.ID, "error", derr)
		}
		return Resource{}, err
	}
	return r, nil
}

// check validates a request and returns its kind, its parameters with
// defaults, and its owner; every bad field is reported at once.
func (s *Service) check(ctx context.Context, req Request) (Kind, map[string]any, string, error) {
	var bad []paved.FieldError
	k, ok := s.kinds[req.Kind]
	if !ok {
		bad = append(bad, fieldsf("kind", "unknown infrastructure kind %q (available: %s)", truncate(req.Kind, 64), strings.Join(s.order, ", ")))
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

// Deprovision removes a resource when the caller owns it (or is an operator).
func (s *Service) Deprovision(ctx context.Context, id string) (Resource, error) {
	unlock, err := s.lockTeardown(ctx, id)
	if err != nil {
		return Resource{}, err
	}
	defer unlock()
	r, err := s.o.Store.GetInfraResource(ctx, id)
	if err != nil {
		return Resource{}, err
	}
	if err := s.authorize(ctx, r, false); err != nil {
		return Resource{}, err
	}
	p, _ := paved.PrincipalFrom(ctx)
	return r, s.deprovision(ctx, r, OpDeprovision, actor(p))
}

// FindID returns the id of the resource of a kind with a name.
func (s *Service) FindID(ctx context.Context, kind, name string) (string, error) {
	r, err := s.o.Store.FindInfraResource(ctx, kind, name)
	if err != nil {
		return "", err
	}
	return r.ID, nil
}

func (s *Service) deprovision(ctx context.Context, r Resource, op, who string) error {
	k, ok := s.kinds[r.Kind]
	if !ok {
		return paved.Errorf(paved.EConflict, "the kind %q of %s is no longer configured; it cannot be deprovisioned", r.Kind, r.Name)
	}
	if r.Status == StatusProvisioning {
		return paved.Errorf(paved.EConflict, "%s %q is still being provisioned", r.Kind, r.Name)
	}
	start := s.o.Now()
	prev := r.Status
	r.Status, r.UpdatedAt = StatusDeprovisioning, s.o.Now().UTC()
	if err := s.o.Store.UpdateInfraResource(ctx, r); err != nil {
		return err
	}
	err := s.o.Drivers[k.Driver].Deprovision(ctx, k, r)
	cleanup := context.WithoutCancel(ctx)
	if err != nil {
		r.Status = prev
		if uerr := s.o.Store.UpdateInfraResource(cleanup, r); uerr != nil {
			s.o.Logger.ErrorContext(ctx, "restoring a resource's status", "resource", r.ID, "error", uerr)
		}
	} else {
		err = s.o.Store.DeleteInfraResource(cleanup, r.ID)
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
	if err := s.authorize(ctx, r, true); err != nil {
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

// authorize lets the owner through: the owner user, or a member of the owner
// group according to the catalog. Operators (static tokens) may manage but
// never read credentials; those are for a user token only.
func (s *Service) authorize(ctx context.Context, r Resource, userTokenOnly bool) error {
	p, ok := paved.PrincipalFrom(ctx)
	if !ok {
		return paved.Errorf(paved.EUnauthenticated, "no caller")
	}
	if userTokenOnly && p.Kind != paved.PrincipalUser {
		return paved.Errorf(paved.EForbidden, "connection details are only given to a Backstage user token of the owner")
	}
	if !userTokenOnly && p.Kind == paved.PrincipalStatic {
		return nil
	}
	if p.User == "" {
		return paved.Errorf(paved.EForbidden, "only the owner of %s %q (%s) may do this, and the call names no user", r.Kind, r.Name, r.Owner)
	}
	user := strings.ToLower(p.User)
	if user == r.Owner {
		return nil
	}
	if strings.HasPrefix(r.Owner, "group:") && s.o.Membership != nil {
		groups, err := s.o.Membership.UserGroups(ctx, user)
		if err != nil && paved.ErrorCode(err) != paved.ENotFound { // a user the catalog does not know is in no group
			return err
		}
		for _, g := range groups {
			if strings.EqualFold(g, r.Owner) {
				return nil
			}
		}
	}
	return paved.Errorf(paved.EForbidden, "%s is not the owner of %s %q (%s) nor a member of it", p.User, r.Kind, r.Name, r.Owner)
}

// Reap tears down the resources whose ttl has run out and returns how many.
func (s *Service) Reap(ctx context.Context) (int, error) {
	expired, err := s.o.Store.ExpiredInfraResources(ctx, s.o.Now().UTC(), 50)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range expired {
		if r.Status != StatusReady {
			continue
		}
		reaped, err := s.reap(ctx, r.ID)
		if err != nil {
			s.o.Logger.WarnContext(ctx, "reaping an expired resource failed; will retry", "resource", r.ID, "kind", r.Kind, "name", r.Name, "error", paved.ErrorMessage(err))
			continue
		}
		if reaped {
			s.o.Logger.InfoContext(ctx, "reaped an expired resource", "resource", r.ID, "kind", r.Kind, "name", r.Name)
			n++
		}
	}
	return n, nil
}

// reap tears an expired resource down, unless a deprovisioning (on any
// replica) took it first.
func (s *Service) reap(ctx context.Context, id string) (bool, error) {
	unlock, err := s.lockTeardown(ctx, id)
	if err != nil {
		return false, err
	}
	defer unlock()
	r, err := s.o.Store.GetInfraResource(ctx, id)
	if paved.ErrorCode(err) == paved.ENotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if r.Status != StatusReady || r.ExpiresAt.IsZero() || r.ExpiresAt.After(s.o.Now()) {
		return false, nil
	}
	return true, s.deprovision(ctx, r, OpReap, "paved:reaper")
}

func (s *Service) record(ctx context.Context, r Resource, op, who string, start time.Time, err error) {
	pr := Provisioning{
		ID: newID(), ResourceID: r.ID, Kind: r.Kind, Name: r.Name, Operation: op, Actor: who,
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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// newID returns a random (version 4) UUID.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
