package approval

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/infra"
	"github.com/paved-dev/paved/lease"
)

// Infra is what approvals need from the infra service.
type Infra interface {
	// Admit checks a request as provisioning would (fields, guardrails,
	// the caller's permission) and returns it with its owner and defaults.
	Admit(ctx context.Context, req infra.Request) (infra.Request, error)
	// OverBudget reports whether the request would exceed its team's
	// budget under the approval policy (a refusing budget is an error).
	OverBudget(ctx context.Context, req infra.Request) (string, bool, error)
	Provision(ctx context.Context, req infra.Request) (infra.Resource, bool, error)
}

var _ Infra = (*infra.Service)(nil)

// Apps creates the Argo CD applications of approved requests (the Argo CD
// client): creating the same application again changes nothing, so a
// resumed creation makes it once.
type Apps interface {
	CreateApp(ctx context.Context, req paved.AppRequest) (paved.App, error)
}

// Membership resolves a user's groups from the catalog.
type Membership interface {
	UserGroups(ctx context.Context, user string) ([]string, error)
}

// Notification is one Backstage notification.
type Notification struct {
	// Recipients are entity refs: users, or groups (their members).
	Recipients []string `json:"recipients"`
	// Exclude are users left out (the requester, from their approvers).
	Exclude     []string `json:"exclude,omitempty"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	// Link is where the notification leads in Backstage.
	Link     string `json:"link"`
	Severity string `json:"severity"` // low, normal, high, critical
	Topic    string `json:"topic"`
}

// Notifier sends notifications (Backstage's notifications backend).
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// Links are the Backstage pages notifications lead to.
type Links struct {
	// Request returns the page of a request.
	Request func(id string) string
	// Resource returns the page of a provisioned resource.
	Resource func(r infra.Resource) string
	// App returns the page of a created application.
	App func(a paved.App) string
}

// Options configure the service.
type Options struct {
	Rules []Rule
	// ExpireAfter is how long a request waits for a decision.
	ExpireAfter time.Duration
	Store       Store
	Infra       Infra
	// Apps creates approved applications; nil: rules for
	// create-argocd-app are refused at start.
	Apps       Apps
	Membership Membership
	// Notifier: nil sends none.
	Notifier Notifier
	Links    Links
	// Leases: one provisioning of a request at a time, on every replica.
	Leases lease.Store
	// MaxAttempts bounds the provisionings that fail on a transient error
	// (default DefaultMaxAttempts).
	MaxAttempts int
	Logger      *slog.Logger
	Now         func() time.Time
}

// Service decides which requests need approval and carries them through.
type Service struct {
	o Options
}

// NewService returns the approval service.
func NewService(o Options) (*Service, error) {
	if o.Store == nil || o.Infra == nil {
		return nil, fmt.Errorf("approval: the service needs a store and the infra service")
	}
	for i, ru := range o.Rules {
		if ru.Action == ActionCreateApp && o.Apps == nil {
			return nil, fmt.Errorf("approval: rule %d is for %s, and no Argo CD client creates approved applications", i, ActionCreateApp)
		}
	}
	if o.ExpireAfter <= 0 {
		o.ExpireAfter = DefaultExpireAfter
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.Leases == nil {
		o.Leases = lease.NewMemory()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Links.Request == nil {
		o.Links.Request = func(string) string { return "" }
	}
	if o.Links.Resource == nil {
		o.Links.Resource = func(infra.Resource) string { return "" }
	}
	if o.Links.App == nil {
		o.Links.App = func(a paved.App) string { return a.URL }
	}
	return &Service{o: o}, nil
}

// DefaultExpireAfter is how long a request waits for a decision by default.
const DefaultExpireAfter = 72 * time.Hour

// Topic of paved's notifications (Backstage groups notifications by topic).
const Topic = "paved-approvals"

// Pending is what Gate answers for a request sent for approval.
type Pending struct {
	Request Request
	// URL is the request's page in Backstage.
	URL string
}

// Gate checks req as provisioning would and, when a rule asks for approval,
// stores it as a pending request and notifies its approvers; ok false means
// no rule matched and the caller provisions. Asking again for a request
// already pending (a retried step) returns it.
func (s *Service) Gate(ctx context.Context, req infra.Request) (Pending, bool, error) {
	if len(s.o.Rules) == 0 {
		return Pending{}, false, nil
	}
	req, err := s.o.Infra.Admit(ctx, req)
	if err != nil {
		return Pending{}, false, err
	}
	rule, reason, ok, err := s.match(ctx, req)
	if err != nil || !ok {
		return Pending{}, false, err
	}
	p, _ := paved.PrincipalFrom(ctx)
	requester := p.User
	if requester == "" {
		return Pending{}, false, paved.Errorf(paved.EForbidden, "%s %q needs approval (%s), and only a request made on behalf of a user can be sent for approval", req.Kind, req.Name, reason)
	}
	approvers := rule.Approvers
	if approvers == ApproversOwner {
		if !strings.HasPrefix(req.Owner, "group:") {
			return Pending{}, false, paved.Errorf(paved.EForbidden, "%s %q needs approval by its owner group (%s), and its owner %s is not a group", req.Kind, req.Name, reason, req.Owner)
		}
		approvers = req.Owner
	}
	now := s.o.Now().UTC().Truncate(time.Microsecond)
	return s.open(ctx, Request{
		ID: infra.NewID(), Kind: req.Kind, Name: req.Name, Owner: req.Owner, Parameters: req.Parameters, TTL: req.TTL,
		EntityRef: req.EntityRef, Requester: requester, Approvers: approvers, Reason: reason, State: StatePending,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(s.o.ExpireAfter),
	})
}

// open stores r, pending, and notifies its approvers; an open request for
// the same kind and name by the same requester asking the same is returned.
func (s *Service) open(ctx context.Context, r Request) (Pending, bool, error) {
	notices := s.notices(r, Notification{
		Recipients:  []string{r.Approvers},
		Exclude:     []string{r.Requester},
		Title:       fmt.Sprintf("Approval needed: %s %s for %s", r.Kind, r.Name, r.Owner),
		Description: fmt.Sprintf("%s asks for %s %q (%s). Needs approval: %s. Expires %s.", r.Requester, r.Kind, r.Name, paramText(r.Parameters), r.Reason, r.ExpiresAt.Format(time.RFC3339)),
		Link:        s.o.Links.Request(r.ID),
		Severity:    "high",
	})
	if err := s.o.Store.CreateApproval(ctx, r, notices...); paved.ErrorCode(err) == paved.EConflict {
		open, ferr := s.o.Store.FindOpenApproval(ctx, r.Kind, r.Name)
		if ferr != nil {
			return Pending{}, false, err
		}
		if open.Requester != r.Requester || open.Owner != r.Owner || !sameParams(open.Parameters, r.Parameters) || !sameApp(open.App, r.App) {
			return Pending{}, false, paved.Errorf(paved.EConflict, "%s %q is already requested by %s (request %s, %s)", r.Kind, r.Name, open.Requester, open.ID, open.State)
		}
		return Pending{Request: open, URL: s.o.Links.Request(open.ID)}, true, nil
	} else if err != nil {
		return Pending{}, false, err
	}
	s.o.Logger.InfoContext(ctx, "request sent for approval", "approval", r.ID, "kind", r.Kind, "name", r.Name, "approvers", r.Approvers, "reason", r.Reason)
	s.deliver(ctx, notices)
	return Pending{Request: r, URL: s.o.Links.Request(r.ID)}, true, nil
}

// match returns the first rule req matches and why. The budget is checked
// first whatever the rules: a budget that refuses refuses now, not after an
// approver's yes.
func (s *Service) match(ctx context.Context, req infra.Request) (Rule, string, bool, error) {
	budget, over, err := s.o.Infra.OverBudget(ctx, req)
	if err != nil {
		return Rule{}, "", false, err
	}
	for i, ru := range s.o.Rules {
		if !ru.matches(req.Kind, req.Parameters) || (ru.OverBudget && !over) {
			continue
		}
		if ru.OverBudget {
			return ru, ru.describe(i) + ": " + budget, true, nil
		}
		return ru, ru.describe(i), true, nil
	}
	if over {
		// The policy sends it for approval and no rule says to whom.
		return Rule{}, "", false, paved.Errorf(paved.EForbidden, "%s, and no approval rule (overBudget: true) names its approvers", budget)
	}
	return Rule{}, "", false, nil
}

// Decision is an approver's answer.
type Decision struct {
	Approve bool
	Comment string
}

// MaxComment bounds a decision's comment, in characters.
const MaxComment = 2000

// Decide records the caller's decision on request id: the caller must be a
// user, a member of the request's approvers, and not its requester. Of two
// decisions at once, one wins; the other is a conflict naming the state.
// An approval provisions at once (and the request becomes done or failed);
// a rejection provisions nothing. The requester is notified either way.
func (s *Service) Decide(ctx context.Context, id string, d Decision) (Request, error) {
	var bad []paved.FieldError
	if utf8.RuneCountInString(d.Comment) > MaxComment {
		bad = append(bad, paved.FieldError{Field: "comment", Message: fmt.Sprintf("must be at most %d characters", MaxComment)})
	}
	if !d.Approve && strings.TrimSpace(d.Comment) == "" {
		bad = append(bad, paved.FieldError{Field: "comment", Message: "is required to reject: tell the requester why"})
	}
	if len(bad) > 0 {
		return Request{}, paved.InvalidFields(bad...)
	}
	r, err := s.o.Store.GetApproval(ctx, id)
	if err != nil {
		return Request{}, err
	}
	p, _ := paved.PrincipalFrom(ctx)
	if p.User == "" || p.Kind != paved.PrincipalUser {
		return Request{}, paved.Errorf(paved.EForbidden, "a decision is made by a Backstage user with their own token, not by %s", who(p))
	}
	user := strings.ToLower(p.User)
	if user == strings.ToLower(r.Requester) {
		return Request{}, paved.Errorf(paved.EForbidden, "nobody approves their own request: %s asked for %s %q", r.Requester, r.Kind, r.Name)
	}
	member, err := s.member(ctx, user, r.Approvers)
	if err != nil {
		return Request{}, err
	}
	if !member {
		return Request{}, paved.Errorf(paved.EForbidden, "%s is not a member of %s, who decide on this request", user, r.Approvers)
	}
	to := StateRejected
	if d.Approve {
		to = StateApproved
	}
	c := Change{ID: id, From: StatePending, To: to, Actor: user, Comment: strings.TrimSpace(d.Comment), At: s.o.Now()}
	if !d.Approve {
		c.Notices = s.notices(r, Notification{
			Recipients:  []string{r.Requester},
			Title:       fmt.Sprintf("Rejected: %s %s", r.Kind, r.Name),
			Description: fmt.Sprintf("%s rejected your request for %s %q: %s", user, r.Kind, r.Name, c.Comment),
			Link:        s.o.Links.Request(r.ID),
			Severity:    "normal",
		})
	}
	changed, err := s.o.Store.ChangeApproval(ctx, c)
	if err != nil {
		return Request{}, err
	}
	if !changed {
		cur, err := s.o.Store.GetApproval(ctx, id)
		if err != nil {
			return Request{}, err
		}
		return Request{}, paved.Errorf(paved.EConflict, "the request is %s, no longer pending%s", cur.State, decidedBy(cur))
	}
	r.State, r.DecidedBy, r.Comment = to, user, c.Comment
	s.o.Logger.InfoContext(ctx, "request decided", "approval", id, "state", to, "by", user)
	if !d.Approve {
		s.deliver(ctx, c.Notices)
		return s.o.Store.GetApproval(ctx, id)
	}
	r, _, err = s.provision(context.WithoutCancel(ctx), r)
	return r, err
}

func who(p paved.Principal) string {
	if p.User != "" {
		return string(p.Kind) + " " + p.Subject + " on behalf of " + p.User
	}
	return string(p.Kind) + " " + p.Subject
}

func decidedBy(r Request) string {
	if r.DecidedBy == "" {
		return ""
	}
	return " (decided by " + r.DecidedBy + ")"
}

// member reports whether user belongs to group.
func (s *Service) member(ctx context.Context, user, group string) (bool, error) {
	if strings.EqualFold(user, group) {
		return true, nil
	}
	if s.o.Membership == nil {
		return false, nil
	}
	groups, err := s.o.Membership.UserGroups(ctx, user)
	if err != nil && paved.ErrorCode(err) != paved.ENotFound {
		return false, err
	}
	for _, g := range groups {
		if strings.EqualFold(g, group) {
			return true, nil
		}
	}
	return false, nil
}

// provisionWait bounds the wait for another replica provisioning the same
// request; the sweep retries later.
const provisionWait = 50 * time.Second

// provision carries an approved (or stalled provisioning) request through
// infra's provisioning, under the request's lock so one replica does it.
// infra records its provisioning before it starts and resumes a dead one,
// so a kill at any line is finished by the sweep (Resume).
func (s *Service) provision(ctx context.Context, r Request) (Request, bool, error) {
	l, wctx, err := lease.Acquire(ctx, s.o.Leases, "approval:"+r.ID, lease.Options{Wait: provisionWait,
		Busy: fmt.Sprintf("request %s is being provisioned by another call", r.ID)})
	if err != nil {
		return Request{}, false, err
	}
	defer l.Release()
	if r, err = s.o.Store.GetApproval(wctx, r.ID); err != nil {
		return Request{}, false, err
	}
	switch r.State {
	case StateApproved:
		if _, err := s.o.Store.ChangeApproval(wctx, Change{ID: r.ID, From: StateApproved, To: StateProvisioning, Actor: "paved", At: s.o.Now()}); err != nil {
			return Request{}, false, err
		}
	case StateProvisioning:
		s.o.Logger.InfoContext(ctx, "resuming the provisioning of an approved request", "approval", r.ID)
	default:
		return r, false, nil // done by another call meanwhile
	}
	// The requester's request, checked when it was made; infra skips the
	// permission and budget checks of an approved request, not the guardrails.
	pctx := paved.WithPrincipal(wctx, paved.Principal{Kind: paved.PrincipalPlugin, Subject: "paved", User: r.Requester})
	resourceID, link, perr := s.create(pctx, r)
	transient, exhausted := false, false
	if code := paved.ErrorCode(perr); code == paved.EUnavailable || code == paved.ETimeout || code == paved.EInternal {
		transient, exhausted = r.Attempts+1 < s.o.MaxAttempts, r.Attempts+1 >= s.o.MaxAttempts
	}
	if transient {
		// The request stays provisioning; the sweep tries again, backing off.
		now := s.o.Now().UTC()
		n, err := s.o.Store.RetryApproval(wctx, r.ID, now, now.Add(retryDelay(r.Attempts+1)), paved.ErrorMessage(perr))
		if err != nil {
			return Request{}, false, err
		}
		s.o.Logger.WarnContext(ctx, "provisioning an approved request failed; will retry", "approval", r.ID, "attempts", n, "error", paved.ErrorMessage(perr))
		r, err := s.o.Store.GetApproval(wctx, r.ID)
		return r, false, err
	}
	c := Change{ID: r.ID, From: StateProvisioning, To: StateDone, Actor: "paved", ResourceID: resourceID, At: s.o.Now()}
	if perr != nil {
		c.To, c.ResourceID, c.Error = StateFailed, "", paved.ErrorMessage(perr)
		if exhausted {
			c.Error = fmt.Sprintf("gave up after %d attempts: %s", r.Attempts+1, c.Error)
		}
		c.Notices = s.notices(r, Notification{
			Recipients:  []string{r.Requester},
			Title:       fmt.Sprintf("Failed: %s %s", r.Kind, r.Name),
			Description: fmt.Sprintf("Your request for %s %q was approved by %s, but provisioning failed: %s", r.Kind, r.Name, r.DecidedBy, c.Error),
			Link:        s.o.Links.Request(r.ID),
			Severity:    "high",
		})
	} else {
		c.Notices = s.notices(r, Notification{
			Recipients:  []string{r.Requester},
			Title:       fmt.Sprintf("Ready: %s %s", r.Kind, r.Name),
			Description: fmt.Sprintf("%s approved your request%s; %s %q is ready.", r.DecidedBy, commentSuffix(r.Comment), r.Kind, r.Name),
			Link:        link,
			Severity:    "normal",
		})
	}
	if err := l.Fence(wctx); err != nil {
		return Request{}, false, err
	}
	if _, err := s.o.Store.ChangeApproval(wctx, c); err != nil {
		return Request{}, false, err
	}
	s.deliver(ctx, c.Notices)
	r, err = s.o.Store.GetApproval(wctx, r.ID)
	return r, err == nil, err
}

// create makes what an approved request asks for: the Argo CD application
// (the same again changes nothing) or the infra resource (infra resumes a
// provisioning it recorded). It returns the resource's id (none for an
// application) and the link the requester is sent.
func (s *Service) create(ctx context.Context, r Request) (string, string, error) {
	if r.Kind == KindArgoCDApp {
		if r.App == nil || s.o.Apps == nil {
			return "", "", paved.Errorf(paved.EInvalid, "request %s names no application paved can create", r.ID)
		}
		app, err := s.o.Apps.CreateApp(ctx, *r.App)
		if err != nil {
			return "", "", err
		}
		link := s.o.Links.App(app)
		if link == "" {
			link = s.o.Links.Request(r.ID)
		}
		return "", link, nil
	}
	res, _, err := s.o.Infra.Provision(ctx, r.InfraRequest())
	if err != nil {
		return "", "", err
	}
	return res.ID, s.o.Links.Resource(res), nil
}

func commentSuffix(c string) string {
	if c == "" {
		return ""
	}
	return " (" + c + ")"
}

func paramText(params map[string]any) string {
	if len(params) == 0 {
		return "no parameters"
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%v", k, params[k]))
	}
	return strings.Join(parts, ", ")
}

func sameParams(a, b map[string]any) bool {
	return paramText(a) == paramText(b)
}
