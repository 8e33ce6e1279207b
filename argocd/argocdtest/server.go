// Package argocdtest runs an Argo CD API server in process: a real gRPC server
// that implements argo-cd's own generated service interfaces over in-memory
// state, with Argo CD's status codes and messages. Tests use it where a real
// Argo CD (a Kubernetes API server, a repo server and a controller) would cost
// seconds and a gigabyte; the wire protocol and the error shapes are the same.
package argocdtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient/application"
	"github.com/argoproj/argo-cd/v2/pkg/apiclient/applicationset"
	"github.com/argoproj/argo-cd/v2/pkg/apiclient/project"
	"github.com/argoproj/argo-cd/v2/pkg/apiclient/repository"
	"github.com/argoproj/argo-cd/v2/pkg/apiclient/session"
	"github.com/argoproj/argo-cd/v2/pkg/apiclient/version"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Full gRPC method names, the keys of Calls.
const (
	MethodLogin         = "/session.SessionService/Create"
	MethodUserInfo      = "/session.SessionService/GetUserInfo"
	MethodVersion       = "/version.VersionService/Version"
	MethodAppCreate     = "/application.ApplicationService/Create"
	MethodAppGet        = "/application.ApplicationService/Get"
	MethodAppList       = "/application.ApplicationService/List"
	MethodAppSync       = "/application.ApplicationService/Sync"
	MethodAppDelete     = "/application.ApplicationService/Delete"
	MethodProjectCreate = "/project.ProjectService/Create"
	MethodProjectGet    = "/project.ProjectService/Get"
	MethodProjectUpdate = "/project.ProjectService/Update"
	MethodProjectDelete = "/project.ProjectService/Delete"
	MethodAppDetails    = "/repository.RepositoryService/GetAppDetails"
)

// InClusterServer is the destination server of the cluster Argo CD runs in,
// known by the name "in-cluster".
const InClusterServer = "https://kubernetes.default.svc"

// Options configure a Server. The zero value is a server on a random loopback
// port with login disabled, no API tokens and instant operations.
type Options struct {
	// Addr to listen on; default "127.0.0.1:0".
	Addr string
	// Username and Password of the local account that may log in
	// (SessionService.Create). Login is refused when Password is empty.
	Username, Password string
	// APITokens are accepted verbatim as bearer tokens, like account API keys.
	APITokens []string
	// Namespace is the control-plane namespace; default "argocd".
	Namespace string
	// AppNamespaces are the other namespaces Applications may live in
	// (apps-in-any-namespace). A project must also list them in sourceNamespaces.
	AppNamespaces []string
	// Clusters maps destination names to servers; "in-cluster" is always known.
	Clusters map[string]string
	// SyncDelay is how long a sync operation (manual or automated) and a
	// cascading delete take. Zero completes them before the call returns.
	SyncDelay time.Duration
	// SessionTTL is the lifetime of session tokens; default 24h like Argo CD.
	SessionTTL time.Duration
	// Version reported by VersionService; default "v2.14.21+argocdtest".
	Version string
}

// Server is an in-process Argo CD API server. Its methods are safe for
// concurrent use.
type Server struct {
	opts     Options
	grpc     *grpc.Server
	lis      net.Listener
	addr     string
	key      []byte
	clusters map[string]string // name → server

	mu          sync.Mutex
	apps        map[appKey]*v1alpha1.Application
	appsets     map[appKey]*v1alpha1.ApplicationSet
	projects    map[string]*v1alpha1.AppProject
	sessions    map[string]bool      // jti of live session tokens
	missing     map[string]bool      // repoURL + "\x00" + path
	commits     map[string]time.Time // revision → commit date (SetCommitDate)
	failN       int
	calls       map[string]int
	timers      map[*time.Timer]bool
	closed      bool
	resourceVer int64
	watch       watchHub
}

type appKey struct{ namespace, name string }

type claimsKey struct{}

// NewServer listens on opts.Addr and prepares the services; Start serves them.
func NewServer(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Namespace == "" {
		opts.Namespace = "argocd"
	}
	if opts.SessionTTL == 0 {
		opts.SessionTTL = 24 * time.Hour
	}
	if opts.Version == "" {
		opts.Version = "v2.14.21+argocdtest"
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("argocdtest: listen: %w", err)
	}
	s := &Server{
		opts:     opts,
		lis:      lis,
		key:      key,
		clusters: map[string]string{"in-cluster": InClusterServer},
		apps:     map[appKey]*v1alpha1.Application{},
		appsets:  map[appKey]*v1alpha1.ApplicationSet{},
		projects: map[string]*v1alpha1.AppProject{},
		sessions: map[string]bool{},
		missing:  map[string]bool{},
		commits:  map[string]time.Time{},
		calls:    map[string]int{},
		timers:   map[*time.Timer]bool{},
	}
	for name, server := range opts.Clusters {
		s.clusters[name] = server
	}
	// argocd-server creates the default project itself, open to everything.
	s.projects[v1alpha1.DefaultAppProjectName] = &v1alpha1.AppProject{
		ObjectMeta: s.newMeta(v1alpha1.DefaultAppProjectName, opts.Namespace),
		Spec: v1alpha1.AppProjectSpec{
			SourceRepos:              []string{"*"},
			Destinations:             []v1alpha1.ApplicationDestination{{Server: "*", Namespace: "*"}},
			ClusterResourceWhitelist: []metav1.GroupKind{{Group: "*", Kind: "*"}},
		},
	}
	s.addr = lis.Addr().String()
	s.grpc = s.newGRPC()
	return s, nil
}

func (s *Server) newGRPC() *grpc.Server {
	g := grpc.NewServer(grpc.ChainUnaryInterceptor(s.intercept))
	application.RegisterApplicationServiceServer(g, &appService{s: s})
	project.RegisterProjectServiceServer(g, &projectService{s: s})
	applicationset.RegisterApplicationSetServiceServer(g, &appSetService{s: s})
	repository.RegisterRepositoryServiceServer(g, &repoService{s: s})
	session.RegisterSessionServiceServer(g, &sessionService{s: s})
	version.RegisterVersionServiceServer(g, &versionService{s: s})
	return g
}

// Start serves in the background until Close.
func (s *Server) Start() {
	g, lis := s.grpc, s.lis
	go func() { _ = g.Serve(lis) }()
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.addr }

// Stop stops serving and listening, as argocd-server going down: clients'
// connections break and new ones are refused. Its state stays for Resume.
func (s *Server) Stop() { s.grpc.Stop() }

// Resume serves again on the same address with the same state (sessions
// issued before stay valid, as argocd-server's do across a restart).
func (s *Server) Resume() error {
	lis, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("argocdtest: listen again: %w", err)
	}
	s.lis, s.grpc = lis, s.newGRPC()
	s.Start()
	return nil
}

// Close stops pending operations and the gRPC server.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	for t := range s.timers {
		t.Stop()
	}
	s.timers = map[*time.Timer]bool{}
	s.mu.Unlock()
	s.grpc.Stop()
}

// Calls returns how many times a method (a Method* constant or any full gRPC
// method name) was called, including calls that failed.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// RevokeTokens invalidates every session token issued so far, as an Argo CD
// restart with a new server.secretkey or a logout would. API tokens stay valid.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions = map[string]bool{}
}

// SetMissing makes path in repoURL not exist: creating an application from it
// with validation, and asking for its app details, fail as Argo CD's repo
// server would.
func (s *Server) SetMissing(repoURL, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.missing[repoURL+"\x00"+path] = true
}

// FailUnavailable makes the next n calls, of any method, fail with
// Unavailable, as they do while argocd-server restarts.
func (s *Server) FailUnavailable(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN = n
}

// App returns a copy of an application as stored; namespace "" is the
// control-plane namespace.
func (s *Server) App(namespace, name string) (*v1alpha1.Application, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[appKey{s.appNamespace(namespace), name}]
	if !ok {
		return nil, false
	}
	return a.DeepCopy(), true
}

// Project returns a copy of a project as stored.
func (s *Server) Project(name string) (*v1alpha1.AppProject, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[name]
	if !ok {
		return nil, false
	}
	return p.DeepCopy(), true
}

// Argo CD authenticates every call except these, which override the auth func.
var anonymous = map[string]bool{MethodLogin: true, MethodVersion: true}

func (s *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	s.mu.Lock()
	s.calls[info.FullMethod]++
	fail := s.failN > 0
	if fail {
		s.failN--
	}
	s.mu.Unlock()
	if fail {
		return nil, status.Error(codes.Unavailable, "argocd-server is restarting (injected by argocdtest)")
	}
	if !anonymous[info.FullMethod] {
		user, err := s.authenticate(ctx)
		if err != nil {
			return nil, err
		}
		ctx = context.WithValue(ctx, claimsKey{}, user)
	}
	resp, err := handler(ctx, req)
	s.mu.Lock()
	s.publishLocked()
	s.mu.Unlock()
	return resp, err
}

// noSession is argocd-server's ErrNoSession.
var noSession = status.Errorf(codes.Unauthenticated, "no session information")

// authenticate returns the user a request's token belongs to, reading the
// token where argocd-server does: the "token" metadata the Go client sends,
// then an "authorization: Bearer" header.
func (s *Server) authenticate(ctx context.Context) (string, error) {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return "", noSession
	}
	var token string
	if t := md.Get("token"); len(t) > 0 {
		token = t[0]
	} else {
		for _, h := range md.Get("authorization") {
			if strings.HasPrefix(h, "Bearer ") {
				token = strings.TrimPrefix(h, "Bearer ")
				break
			}
		}
	}
	if token == "" {
		return "", noSession
	}
	for _, t := range s.opts.APITokens {
		if t != "" && token == t {
			return "apikey", nil
		}
	}
	user, err := s.verify(token)
	if err != nil {
		return "", status.Errorf(codes.Unauthenticated, "invalid session: %v", err)
	}
	return user, nil
}

func (s *Server) verify(token string) (string, error) {
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return s.key, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer("argocd"))
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	live := s.sessions[claims.ID]
	s.mu.Unlock()
	if !live {
		return "", errors.New("token is revoked, please re-login")
	}
	user, _, _ := strings.Cut(claims.Subject, ":")
	return user, nil
}

func (s *Server) issue(user string) (string, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return "", err
	}
	now := time.Now()
	claims := jwt.RegisteredClaims{
		Issuer:    "argocd",
		Subject:   user + ":login",
		ID:        hex.EncodeToString(id),
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(s.opts.SessionTTL)),
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.key)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.sessions[claims.ID] = true
	s.mu.Unlock()
	return signed, nil
}

// newMeta returns object metadata as the Kubernetes API server fills it on create.
func (s *Server) newMeta(name, namespace string) metav1.ObjectMeta {
	uid := make([]byte, 16)
	_, _ = rand.Read(uid)
	s.resourceVer++
	return metav1.ObjectMeta{
		Name:              name,
		Namespace:         namespace,
		UID:               types.UID(hex.EncodeToString(uid)),
		ResourceVersion:   fmt.Sprint(s.resourceVer),
		Generation:        1,
		CreationTimestamp: metav1.Now(),
	}
}

// after runs f with s.mu held once d has passed, or right away (the caller
// holding s.mu) when d is zero, so that zero-delay servers are deterministic.
func (s *Server) after(d time.Duration, f func()) {
	if d <= 0 {
		f()
		return
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.timers, t)
		if !s.closed {
			f()
			s.publishLocked()
		}
	})
	s.timers[t] = true
}
