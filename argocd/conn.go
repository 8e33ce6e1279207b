package argocd

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient"
	"github.com/argoproj/argo-cd/v2/pkg/apiclient/application"
	"github.com/argoproj/argo-cd/v2/pkg/apiclient/applicationset"
	"github.com/argoproj/argo-cd/v2/pkg/apiclient/project"
	"github.com/argoproj/argo-cd/v2/pkg/apiclient/repository"
	"github.com/argoproj/argo-cd/v2/pkg/apiclient/session"
	"github.com/argoproj/argo-cd/v2/pkg/apiclient/version"
	"github.com/golang-jwt/jwt/v5"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paved-dev/paved"
)

// authed is the set of connections that carry one token. apiclient bakes the
// token into each connection, so a new token means new connections; the old
// ones are closed once the calls still using them return.
type authed struct {
	token    string
	exp      time.Time // zero: never expires, or not a JWT
	renewAt  time.Time
	apps     application.ApplicationServiceClient
	projects project.ProjectServiceClient
	appsets  applicationset.ApplicationSetServiceClient
	repos    repository.RepositoryServiceClient
	closers  []io.Closer

	refs    int // guarded by instance.mu
	retired bool
}

// anon is the token-less connections: login and version need no session.
type anon struct {
	sessions session.SessionServiceClient
	versions version.VersionServiceClient
	closers  []io.Closer
}

// instance is one Argo CD: its config, its connections and its session.
type instance struct {
	cfg    InstanceConfig
	log    *slog.Logger
	tracer trace.Tracer
	now    func() time.Time

	// dialing serialises logins and dials, so that N concurrent calls that
	// find no valid session cause one login, not N. A channel rather than a
	// mutex so that waiting honours the caller's context.
	dialing chan struct{}

	mu     sync.Mutex
	cur    *authed
	anon   *anon
	closed bool
}

func (in *instance) usesLogin() bool { return in.cfg.Token == "" }

func (in *instance) clientOptions(token string) *apiclient.ClientOptions {
	return &apiclient.ClientOptions{
		ServerAddr: in.cfg.addr(),
		AuthToken:  token,
		PlainText:  in.cfg.PlainText,
		Insecure:   in.cfg.Insecure,
		GRPCWeb:    in.cfg.GRPCWeb,
		UserAgent:  "paved/" + paved.Version,
		// ConfigPath stays empty: the CLI passes its config file explicitly,
		// and paved must never pick up a developer's ~/.config/argocd.
	}
}

// lock takes the dialing slot or gives up with ctx.
func (in *instance) lock(ctx context.Context) error {
	select {
	case in.dialing <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (in *instance) unlock() { <-in.dialing }

// acquire returns connections with a valid token, logging in or dialing only
// when there are none or the token is about to expire. release must follow.
func (in *instance) acquire(ctx context.Context) (*authed, error) {
	if a := in.current(); a != nil {
		return a, nil
	}
	if err := in.lock(ctx); err != nil {
		return nil, unavailable(in.cfg.Name, err)
	}
	defer in.unlock()
	if a := in.current(); a != nil {
		return a, nil
	}
	token := in.cfg.Token
	if in.usesLogin() {
		var err error
		if token, err = in.login(ctx); err != nil {
			return nil, err
		}
	}
	a, err := in.dialAuthed(ctx, token)
	if err != nil {
		return nil, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		closeAll(a.closers)
		return nil, paved.Errorf(paved.EUnavailable, "Argo CD client is closed")
	}
	in.retire(in.cur)
	in.cur = a
	a.refs++
	return a, nil
}

// current returns the cached connections, counted, if their token is good.
func (in *instance) current() *authed {
	in.mu.Lock()
	defer in.mu.Unlock()
	a := in.cur
	if a == nil || (in.usesLogin() && !a.renewAt.IsZero() && !in.now().Before(a.renewAt)) {
		return nil
	}
	a.refs++
	return a
}

func (in *instance) release(a *authed) {
	in.mu.Lock()
	defer in.mu.Unlock()
	a.refs--
	if a.retired && a.refs == 0 {
		closeAll(a.closers)
	}
}

// invalidate drops a's token after Argo CD refused it, unless another call
// already replaced it.
func (in *instance) invalidate(a *authed) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cur == a {
		in.cur = nil
		in.retire(a)
	}
}

// retire must be called with in.mu held.
func (in *instance) retire(a *authed) {
	if a == nil || a.retired {
		return
	}
	a.retired = true
	if a.refs == 0 {
		closeAll(a.closers)
	}
}

func (in *instance) close() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.closed = true
	in.retire(in.cur)
	in.cur = nil
	if in.anon != nil {
		closeAll(in.anon.closers)
		in.anon = nil
	}
}

// login creates a session with the configured account and returns its token.
func (in *instance) login(ctx context.Context) (string, error) {
	ctx, span := in.startSpan(ctx, "session.SessionService/Create")
	defer span.End()
	an, err := in.anonConns(ctx)
	if err != nil {
		endSpan(span, err)
		return "", err
	}
	res, err := an.sessions.Create(ctx, &session.SessionCreateRequest{Username: in.cfg.Username, Password: in.cfg.Password})
	if isConnUnavailable(err) {
		// As in try: a connection in reconnect back-off, Argo CD maybe back.
		in.dropAnon(an)
		if an, err = in.anonConns(ctx); err == nil {
			res, err = an.sessions.Create(ctx, &session.SessionCreateRequest{Username: in.cfg.Username, Password: in.cfg.Password})
		}
	}
	if err != nil {
		mapped := in.loginError(err)
		endSpan(span, mapped)
		return "", mapped
	}
	in.log.Info("logged in to Argo CD", "instance", in.cfg.Name, "user", in.cfg.Username)
	return res.Token, nil
}

func (in *instance) loginError(err error) error {
	st, ok := status.FromError(err)
	if !ok || st.Code() == codes.Unavailable || st.Code() == codes.DeadlineExceeded || st.Code() == codes.Canceled {
		return in.mapError(err, "")
	}
	return paved.Wrap(paved.EUnavailable, err, "Argo CD instance %q refused paved's login as %q: %s",
		in.cfg.Name, in.cfg.Username, redact(st.Message(), in.cfg.Password))
}

// redial replaces a, whose call found Argo CD unreachable, by new
// connections with the same token, and returns them counted (release must
// follow). Of concurrent calls that found a broken, one dials; the others use
// its connections.
func (in *instance) redial(ctx context.Context, a *authed) (*authed, error) {
	if err := in.lock(ctx); err != nil {
		return nil, unavailable(in.cfg.Name, err)
	}
	defer in.unlock()
	in.mu.Lock()
	if cur := in.cur; cur != nil && cur != a && cur.token == a.token {
		cur.refs++
		in.mu.Unlock()
		return cur, nil
	}
	in.mu.Unlock()
	na, err := in.dialAuthed(ctx, a.token)
	if err != nil {
		return nil, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		closeAll(na.closers)
		return nil, paved.Errorf(paved.EUnavailable, "Argo CD client is closed")
	}
	if in.cur == a {
		in.retire(a)
		in.cur = na
	} else {
		// a was replaced (a new login) meanwhile: na serves this call only.
		na.retired = true
	}
	na.refs++
	in.log.Info("Argo CD was unreachable on a connection; dialed a new one", "instance", in.cfg.Name)
	return na, nil
}

// dropAnon closes the token-less connections after a call on them found Argo
// CD unreachable, so that the next call dials afresh.
func (in *instance) dropAnon(an *anon) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.anon == an {
		in.anon = nil
		closeAll(an.closers)
	}
}

func (in *instance) anonConns(ctx context.Context) (*anon, error) {
	in.mu.Lock()
	an := in.anon
	in.mu.Unlock()
	if an != nil {
		return an, nil
	}
	if err := in.reachable(ctx); err != nil {
		return nil, err
	}
	an, err := dial(ctx, func() (*anon, error) {
		c, err := apiclient.NewClient(in.clientOptions(""))
		if err != nil {
			return nil, err
		}
		an := &anon{}
		closer, sessions, err := c.NewSessionClient()
		if err != nil {
			return nil, err
		}
		an.sessions, an.closers = sessions, append(an.closers, closer)
		closer, versions, err := c.NewVersionClient()
		if err != nil {
			closeAll(an.closers)
			return nil, err
		}
		an.versions, an.closers = versions, append(an.closers, closer)
		return an, nil
	}, func(an *anon) { closeAll(an.closers) })
	if err != nil {
		return nil, in.mapError(err, "")
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.anon != nil { // another caller dialed meanwhile
		closeAll(an.closers)
		return in.anon, nil
	}
	in.anon = an
	return an, nil
}

// reachable connects to Argo CD's port and hangs up. apiclient's dial never
// gives up in the background (it reports the first refusal but keeps
// retrying, and a connection made later is never closed), so paved dials
// only once the port answers.
func (in *instance) reachable(ctx context.Context) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", in.cfg.addr())
	if err != nil {
		if ctx.Err() != nil {
			return unavailable(in.cfg.Name, ctx.Err())
		}
		return paved.Wrap(paved.EUnavailable, err, "Argo CD instance %q is unreachable: %s", in.cfg.Name, err)
	}
	return c.Close()
}

func (in *instance) dialAuthed(ctx context.Context, token string) (*authed, error) {
	if err := in.reachable(ctx); err != nil {
		return nil, err
	}
	a, err := dial(ctx, func() (*authed, error) {
		c, err := apiclient.NewClient(in.clientOptions(token))
		if err != nil {
			return nil, err
		}
		a := &authed{token: token}
		closer, apps, err := c.NewApplicationClient()
		if err != nil {
			return nil, err
		}
		a.apps, a.closers = apps, append(a.closers, closer)
		closer, projects, err := c.NewProjectClient()
		if err != nil {
			closeAll(a.closers)
			return nil, err
		}
		a.projects, a.closers = projects, append(a.closers, closer)
		closer, appsets, err := c.NewApplicationSetClient()
		if err != nil {
			closeAll(a.closers)
			return nil, err
		}
		a.appsets, a.closers = appsets, append(a.closers, closer)
		closer, repos, err := c.NewRepoClient()
		if err != nil {
			closeAll(a.closers)
			return nil, err
		}
		a.repos, a.closers = repos, append(a.closers, closer)
		return a, nil
	}, func(a *authed) { closeAll(a.closers) })
	if err != nil {
		return nil, in.mapError(err, token)
	}
	a.exp, a.renewAt = renewal(token)
	return a, nil
}

// renewal reads a token's lifetime without verifying it (paved is not its
// audience; Argo CD verifies) and picks when to log in again: shortly before
// it expires, so that no call is made with a token about to lapse.
func renewal(token string) (exp, renewAt time.Time) {
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &claims); err != nil || claims.ExpiresAt == nil {
		return time.Time{}, time.Time{}
	}
	exp = claims.ExpiresAt.Time
	margin := 5 * time.Minute
	if claims.IssuedAt != nil {
		// A quarter of a short lifetime; a token issued after it expires
		// (clock trouble on Argo CD's side) is renewed when it expires.
		margin = max(0, min(margin, exp.Sub(claims.IssuedAt.Time)/4))
	}
	return exp, exp.Add(-margin)
}

// dial runs f, which blocks without a context (apiclient dials with
// context.Background), and gives up when ctx ends; a late result is cleaned up.
func dial[T any](ctx context.Context, f func() (T, error), cleanup func(T)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.err == nil {
				cleanup(r.v)
			}
		}()
		var zero T
		return zero, ctx.Err()
	}
}

func closeAll(closers []io.Closer) {
	for _, c := range closers {
		_ = c.Close()
	}
}
