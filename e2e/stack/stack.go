// Package stack runs, on loopback only, the real systems paved's end-to-end
// suite talks to: etcd, redis, kube-apiserver and kube-controller-manager,
// Argo CD's server, repo-server and application-controller, and a git daemon
// serving the fixture repositories of e2e/fixtures.
//
// It shells out to binaries built from the tools modules under e2e/tools (see
// Build) and speaks REST, so that paved's module never links Kubernetes or
// Argo CD's server code and this package compiles in seconds.
//
// There is no kubelet and no scheduler: objects are stored and garbage
// collected, but no pod ever runs. A Deployment with replicas: 0 is Healthy
// (the deployment controller runs and records its rollout); one with pods
// stays Progressing.
package stack

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/paved-dev/paved/e2e/loopback"
)

// ArgoCDVersion is the Argo CD the stack runs by default; its CRDs come from
// the module cache. ArgoCD3Version is the Argo CD 3 it runs when asked
// (Options.ArgoCD or PAVED_E2E_ARGOCD=v3): the newest 3.x that builds from the
// Go module proxy (see e2e/tools/argocd3).
const (
	ArgoCDVersion  = "v2.14.21"
	ArgoCD3Version = "v3.2.11"
)

// ArgoCDEnv chooses the Argo CD major version of stacks started without
// Options.ArgoCD: "v2" (default) or "v3".
const ArgoCDEnv = "PAVED_E2E_ARGOCD"

// argoMajor returns "v2" or "v3" for an Options.ArgoCD value, falling back to
// $PAVED_E2E_ARGOCD.
func argoMajor(choice string) (string, error) {
	if choice == "" {
		choice = os.Getenv(ArgoCDEnv)
	}
	switch choice {
	case "", "v2", ArgoCDVersion:
		return "v2", nil
	case "v3", ArgoCD3Version:
		return "v3", nil
	}
	return "", fmt.Errorf("Argo CD %q: the stack runs v2 (%s) or v3 (%s)", choice, ArgoCDVersion, ArgoCD3Version)
}

// Options configures Start.
type Options struct {
	// StateDir holds everything the stack writes (data, logs, pid files,
	// certificates, repositories); Stop removes it. Empty means a new
	// temporary directory. Keep it short: a unix socket lives in it.
	StateDir string
	// Root is the repository's root; empty means the one holding the working directory.
	Root string
	Logf func(format string, args ...any)
	// Detach leaves the components running when this process exits, for a
	// stack stopped later by Down (devstack); otherwise they die with it.
	Detach bool
	// ArgoCD is "v2" or "v3"; empty means $PAVED_E2E_ARGOCD, else v2.
	ArgoCD string
	// KubeOnly starts etcd and kube-apiserver only, with Argo CD's CRDs and
	// namespace but no Argo CD: enough to apply manifests (the Helm chart's
	// test), and only kube and helm are built.
	KubeOnly bool
	// AppResync is Argo CD's timeout.reconciliation: how often the
	// application controller refreshes each application from git, and how
	// long the repo server trusts a branch's resolved commit; zero keeps
	// Argo CD's 3 minutes. A dev stack's git daemon sends no webhook, so a
	// shorter period is how a commit shows in Argo CD soon.
	AppResync time.Duration
}

// Timing is how long one component took from its start until it answered.
type Timing struct {
	Component string
	Duration  time.Duration
}

// Stack is a running stack. Its fields are set by Start and not changed after.
type Stack struct {
	// ArgoCDAddr is host:port of argocd-server: gRPC and REST, plain HTTP.
	ArgoCDAddr    string
	AdminPassword string
	// PavedToken is an API key of Argo CD account "paved" (RBAC role admin).
	PavedToken string
	// KubeconfigPath points at the API server with KubeToken (system:masters).
	KubeconfigPath string
	KubeAPIServer  string // https URL
	KubeToken      string
	KubeCACert     string // path of the PEM CA that signed the API server's certificate
	// ArgoCDVersion is the version of the Argo CD running (v2.14.21 or v3.2.11).
	ArgoCDVersion string
	// GitAddr is host:port of the git daemon; see GitURL.
	GitAddr  string
	StateDir string
	// Timings lists each component's start-up, in start order; Startup is the
	// whole of Start, builds excluded.
	Timings []Timing
	Startup time.Duration

	root, argoDir, gitRoot, tmpDir string
	bins                           Bins
	logf                           func(string, ...any)
	detach                         bool
	ports                          map[string]string
	redisAddr, repoServerAddr      string

	mu      sync.Mutex
	procs   []*proc
	started int
	admin   string
	// appResync is Options.AppResync.
	appResync time.Duration
	stopped   sync.Once
	stopErr   error
}

// Start builds what is missing (see Build), starts every component, and
// returns once Argo CD answers and the paved account has an API key. On
// error, whatever was started is stopped. Call Stop when done, even on error
// paths of the caller (t.Cleanup).
func Start(ctx context.Context, opts Options) (st *Stack, err error) {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	root, err := repoRoot(opts.Root)
	if err != nil {
		return nil, err
	}
	major, err := argoMajor(opts.ArgoCD)
	if err != nil {
		return nil, err
	}
	bo := BuildOptions{Root: root, Logf: logf, ArgoCD: major}
	if opts.KubeOnly {
		bo.Only = []string{"kube", "helm"}
	}
	bins, err := Build(ctx, bo)
	if err != nil {
		return nil, err
	}
	version := ArgoCDVersion
	if major == "v3" {
		// One binary serves every Argo CD component; the stack starts whichever is chosen.
		bins.ArgoCD, version = bins.ArgoCD3, ArgoCD3Version
	}
	crds, err := argoCRDs(ctx, root, major)
	if err != nil {
		return nil, err
	}
	stateDir := opts.StateDir
	if stateDir == "" {
		if stateDir, err = os.MkdirTemp("", "paved-e2e-"); err != nil {
			return nil, err
		}
	}
	if stateDir, err = filepath.Abs(stateDir); err != nil {
		return nil, err
	}
	for _, sub := range []string{"logs", "pids", "git", "tmp", "etcd", "redis", "argocd"} {
		if err := os.MkdirAll(filepath.Join(stateDir, sub), 0o700); err != nil {
			return nil, err
		}
	}
	s := &Stack{
		StateDir: stateDir, root: root, bins: bins, logf: logf, detach: opts.Detach, appResync: opts.AppResync,
		argoDir: filepath.Join(stateDir, "argocd"), gitRoot: filepath.Join(stateDir, "git"),
		tmpDir: filepath.Join(stateDir, "tmp"), ports: map[string]string{},
		KubeconfigPath: filepath.Join(stateDir, "kubeconfig"),
		KubeToken:      randomHex(24),
		ArgoCDVersion:  version,
		AdminPassword:  randomHex(16),
	}
	defer func() {
		if err != nil {
			_ = s.Stop()
			st = nil
		}
	}()
	began := time.Now()
	if err := s.pickPorts(); err != nil {
		return nil, err
	}

	var pk pki
	first := []step{
		s.timed("pki", func(ctx context.Context) (err error) {
			pk, err = makePKI(ctx, filepath.Join(stateDir, "pki"))
			return err
		}),
		s.timed("etcd", s.startEtcd),
	}
	if !opts.KubeOnly {
		first = append(first, s.timed("redis", s.startRedis), s.timed("git-daemon", s.startGit))
	}
	err = s.parallel(ctx, first...)
	if err != nil {
		return nil, err
	}
	if err := s.run(ctx, "kube-apiserver", func(ctx context.Context) error { return s.startAPIServer(ctx, pk) }); err != nil {
		return nil, err
	}
	if opts.KubeOnly {
		client, err := s.kubeHTTPClient()
		if err != nil {
			return nil, err
		}
		if err := s.kubeCreate(ctx, client, kubeObject{"/api/v1/namespaces", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: argocd\n"}); err != nil {
			return nil, err
		}
		if err := s.run(ctx, "argocd-crds", func(ctx context.Context) error { return s.createCRDs(ctx, crds[:2]) }); err != nil {
			return nil, err
		}
		s.Startup = time.Since(began)
		logf("kube-only stack up in %s: %s", s.Startup.Round(time.Millisecond), s.timingSummary())
		return s, nil
	}
	if err := s.argoDirs(); err != nil {
		return nil, err
	}
	argo := func(ctx context.Context) error {
		if err := s.run(ctx, "argocd-config", func(ctx context.Context) error { return s.applyArgoConfig(ctx, crds[:2]) }); err != nil {
			return err
		}
		return s.parallel(ctx,
			s.timed("argocd-repo-server", func(ctx context.Context) error {
				return s.startAndWait(ctx, s.repoServerSpec(), func(ctx context.Context) error {
					return httpOK(ctx, "http://127.0.0.1:"+s.ports["repo-server-metrics"]+"/healthz?full=true")
				})
			}),
			s.timed("argocd-server", func(ctx context.Context) error {
				return s.startAndWait(ctx, s.argoServerSpec(), s.argoServerReady)
			}),
			s.timed("argocd-application-controller", func(ctx context.Context) error {
				return s.startAndWait(ctx, s.controllerSpec(), func(ctx context.Context) error {
					return httpOK(ctx, "http://127.0.0.1:"+s.ports["controller-metrics"]+"/healthz")
				})
			}),
		)
	}
	err = s.parallel(ctx,
		s.timed("kube-controller-manager", s.startControllerManager),
		argo,
		// The ApplicationSet CRD (1 MB of schema) takes the API server seconds
		// to accept; argocd-server waits only for Applications and AppProjects.
		s.timed("applicationset-crd", func(ctx context.Context) error { return s.createCRDs(ctx, crds[2:]) }),
	)
	if err != nil {
		return nil, err
	}
	// Its manager watches ApplicationSets from the start: the CRD must be established.
	if err := s.run(ctx, "argocd-applicationset-controller", func(ctx context.Context) error {
		return s.startAndWait(ctx, s.appSetControllerSpec(), s.appSetControllerReady)
	}); err != nil {
		return nil, err
	}
	if err := s.run(ctx, "paved-token", s.createPavedToken); err != nil {
		return nil, err
	}
	// kube-controller-manager serves nothing to probe: a crash shows only here.
	for _, p := range s.procs {
		if p.exited() {
			return nil, fmt.Errorf("%s exited during start-up\n--- end of log:\n%s", p.spec.name, logTail(stateDir, p.spec.name, 30))
		}
	}
	s.Startup = time.Since(began)
	logf("stack up in %s: %s", s.Startup.Round(time.Millisecond), s.timingSummary())
	return s, nil
}

func (s *Stack) timingSummary() string {
	parts := make([]string, 0, len(s.Timings))
	for _, t := range s.Timings {
		parts = append(parts, fmt.Sprintf("%s %s", t.Component, t.Duration.Round(time.Millisecond)))
	}
	return strings.Join(parts, ", ")
}

type step func(context.Context) error

// timed wraps a step so that its duration lands in Timings.
func (s *Stack) timed(name string, f step) step {
	return func(ctx context.Context) error { return s.run(ctx, name, f) }
}

func (s *Stack) run(ctx context.Context, name string, f step) error {
	began := time.Now()
	if err := f(ctx); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	s.mu.Lock()
	s.Timings = append(s.Timings, Timing{Component: name, Duration: time.Since(began)})
	s.mu.Unlock()
	return nil
}

// parallel runs steps at once and returns their errors joined.
func (s *Stack) parallel(ctx context.Context, steps ...step) error {
	errs := make([]error, len(steps))
	var wg sync.WaitGroup
	for i, f := range steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// pickPorts reserves free loopback ports. Another process may take one
// between here and the component's start; that fails Start loudly, not silently.
func (s *Stack) pickPorts() error {
	names := []string{"etcd", "etcd-peer", "redis", "kube-apiserver", "repo-server",
		"repo-server-metrics", "argocd-server", "argocd-server-metrics", "controller-metrics", "git",
		"appset-metrics", "appset-probe", "appset-webhook"}
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for _, n := range names {
		l, err := loopback.Listen()
		if err != nil {
			return err
		}
		listeners = append(listeners, l)
		s.ports[n] = port(l.Addr().String())
	}
	s.redisAddr = "127.0.0.1:" + s.ports["redis"]
	s.repoServerAddr = "127.0.0.1:" + s.ports["repo-server"]
	s.ArgoCDAddr = "127.0.0.1:" + s.ports["argocd-server"]
	s.GitAddr = "127.0.0.1:" + s.ports["git"]
	s.KubeAPIServer = "https://127.0.0.1:" + s.ports["kube-apiserver"]
	return nil
}

func port(hostport string) string {
	_, p, _ := net.SplitHostPort(hostport)
	return p
}

// startAndWait starts a component and waits until ready succeeds; on failure
// the error carries the end of the component's log.
func (s *Stack) startAndWait(ctx context.Context, spec procSpec, ready step) error {
	s.mu.Lock()
	s.started++
	order := s.started
	s.mu.Unlock()
	p, err := startProc(s.StateDir, order, spec, s.detach)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	if err := waitReady(ctx, p, 2*time.Minute, ready); err != nil {
		return fmt.Errorf("%w\n--- end of %s log:\n%s", err, spec.name, logTail(s.StateDir, spec.name, 30))
	}
	return nil
}

func (s *Stack) startEtcd(ctx context.Context) error {
	client := "http://127.0.0.1:" + s.ports["etcd"]
	peer := "http://127.0.0.1:" + s.ports["etcd-peer"]
	spec := procSpec{name: "etcd", path: "etcd", args: []string{
		"--name", "e2e", "--data-dir", filepath.Join(s.StateDir, "etcd"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "e2e=" + peer, "--initial-cluster-state", "new",
		"--logger", "zap", "--log-level", "warn",
	}}
	return s.startAndWait(ctx, spec, func(ctx context.Context) error { return httpOK(ctx, client+"/health") })
}

func (s *Stack) startRedis(ctx context.Context) error {
	spec := procSpec{name: "redis", path: "redis-server", args: []string{
		"--bind", "127.0.0.1", "--port", s.ports["redis"], "--save", "", "--appendonly", "no",
		"--dir", filepath.Join(s.StateDir, "redis"), "--daemonize", "no",
	}}
	return s.startAndWait(ctx, spec, func(ctx context.Context) error {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", s.redisAddr)
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := conn.Write([]byte("PING\r\n")); err != nil {
			return err
		}
		buf := make([]byte, 16)
		n, err := conn.Read(buf)
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(buf[:n], []byte("+PONG")) {
			return fmt.Errorf("redis answered %q", buf[:n])
		}
		return nil
	})
}

func (s *Stack) startGit(ctx context.Context) error {
	spec := procSpec{name: "git-daemon", path: "git", args: []string{
		"daemon", "--listen=127.0.0.1", "--port=" + s.ports["git"], "--reuseaddr",
		"--base-path=" + s.gitRoot, "--export-all", "--enable=receive-pack", "--informative-errors",
	}, env: []string{"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"}}
	if err := s.addFixtureRepos(ctx); err != nil {
		return err
	}
	return s.startAndWait(ctx, spec, func(ctx context.Context) error {
		_, err := s.git(ctx, s.tmpDir, "ls-remote", s.GitURL("plain"))
		return err
	})
}

func (s *Stack) startAPIServer(ctx context.Context, pk pki) error {
	tokens := filepath.Join(s.StateDir, "pki", "tokens.csv")
	if err := os.WriteFile(tokens, []byte(s.KubeToken+",admin,admin-uid,system:masters\n"), 0o600); err != nil {
		return err
	}
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: admin
  user:
    token: %s
contexts:
- name: e2e
  context:
    cluster: e2e
    user: admin
current-context: e2e
`, s.KubeAPIServer, pk.caCert, s.KubeToken)
	if err := os.WriteFile(s.KubeconfigPath, []byte(kubeconfig), 0o600); err != nil {
		return err
	}
	s.KubeCACert = pk.caCert
	spec := procSpec{name: "kube-apiserver", path: s.bins.KubeAPIServer, args: []string{
		"--etcd-servers=http://127.0.0.1:" + s.ports["etcd"],
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port=" + s.ports["kube-apiserver"],
		// No kubelets, so no endpoints for the kubernetes service to reconcile.
		"--endpoint-reconciler-type=none",
		"--tls-cert-file=" + pk.serverCert, "--tls-private-key-file=" + pk.serverKey,
		"--client-ca-file=" + pk.caCert,
		"--token-auth-file=" + tokens,
		"--authorization-mode=RBAC",
		"--service-account-key-file=" + pk.saPub,
		"--service-account-signing-key-file=" + pk.saKey,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-cluster-ip-range=10.96.0.0/12",
		"--cert-dir=" + filepath.Join(s.StateDir, "pki"),
	}}
	client, err := s.kubeHTTPClient()
	if err != nil {
		return err
	}
	return s.startAndWait(ctx, spec, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.KubeAPIServer+"/readyz", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+s.KubeToken)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New("readyz: " + resp.Status)
		}
		return nil
	})
}

func (s *Stack) kubeHTTPClient() (*http.Client, error) {
	pem, err := os.ReadFile(s.KubeCACert)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no certificate in " + s.KubeCACert)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}, nil
}

func (s *Stack) startControllerManager(ctx context.Context) error {
	spec := procSpec{name: "kube-controller-manager", path: s.bins.KubeControllerManager, args: []string{
		"--kubeconfig=" + s.KubeconfigPath,
		// garbage-collector and namespace make cascade deletes finish; deployment
		// and replicaset record rollouts, which Argo CD's Deployment health reads.
		"--controllers=garbage-collector-controller,namespace-controller,deployment-controller,replicaset-controller",
		"--leader-elect=false", "--secure-port=0",
		// With per-controller service accounts (and no token controller) the
		// controllers cannot authenticate and deletes hang on their finalizers.
		"--use-service-account-credentials=false",
	}}
	// It serves nothing to probe; its work shows in the cascade deletes.
	return s.startAndWait(ctx, spec, func(context.Context) error { return nil })
}

// argoCRDs returns the CRD manifests of Argo CD's module, downloading it into
// the module cache when missing.
func argoCRDs(ctx context.Context, root, major string) ([]crdFile, error) {
	mod, toolDir := "github.com/argoproj/argo-cd/v2@"+ArgoCDVersion, "argocd"
	if major == "v3" {
		mod, toolDir = "github.com/argoproj/argo-cd/v3@"+ArgoCD3Version, "argocd3"
	}
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", mod)
	cmd.Dir = filepath.Join(root, "e2e", "tools", toolDir)
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go mod download argo-cd: %w", err)
	}
	var dir string
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), `"Dir": `); ok {
			dir = strings.Trim(strings.TrimSuffix(v, ","), `"`)
		}
	}
	if dir == "" {
		return nil, errors.New("go mod download argo-cd: no Dir")
	}
	var files []crdFile
	for _, kind := range []string{"application", "appproject", "applicationset"} {
		files = append(files, crdFile{
			path: filepath.Join(dir, "manifests", "crds", kind+"-crd.yaml"),
			name: kind + "s.argoproj.io",
		})
	}
	return files, nil
}

// applyArgoConfig creates Argo CD's namespace, configuration and the CRDs
// crds through the REST API (which takes YAML bodies): kubectl's discovery
// and OpenAPI downloads cost seconds right after the API server starts.
func (s *Stack) applyArgoConfig(ctx context.Context, crds []crdFile) error {
	client, err := s.kubeHTTPClient()
	if err != nil {
		return err
	}
	policy := "g, " + pavedAccount + ", role:admin"
	if s.ArgoCDVersion == ArgoCD3Version {
		policy = PavedPolicy
	}
	objs, err := argoConfig("http://"+s.ArgoCDAddr, s.AdminPassword, policy)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := s.kubeCreate(ctx, client, o); err != nil {
			return err
		}
	}
	return s.createCRDs(ctx, crds)
}

// crdFile is a CRD manifest and the name of the CRD it holds.
type crdFile struct{ path, name string }

func (s *Stack) createCRDs(ctx context.Context, crds []crdFile) error {
	client, err := s.kubeHTTPClient()
	if err != nil {
		return err
	}
	const crdPath = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
	for _, f := range crds {
		doc, err := os.ReadFile(f.path)
		if err != nil {
			return err
		}
		if err := s.kubeCreate(ctx, client, kubeObject{path: crdPath, doc: string(doc)}); err != nil {
			return err
		}
	}
	for _, f := range crds {
		err := waitReady(ctx, nil, 2*time.Minute, func(ctx context.Context) error {
			return s.crdEstablished(ctx, client, crdPath+"/"+f.name)
		})
		if err != nil {
			return fmt.Errorf("CRD %s: %w", f.name, err)
		}
	}
	return nil
}

// kubeObject is a YAML manifest and the collection it is created in.
type kubeObject struct{ path, doc string }

func (s *Stack) kubeCreate(ctx context.Context, client *http.Client, o kubeObject) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.KubeAPIServer+o.path, strings.NewReader(o.doc))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.KubeToken)
	req.Header.Set("Content-Type", "application/yaml")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("create in %s: %s: %s", o.path, resp.Status, body)
	}
	return nil
}

func (s *Stack) crdEstablished(ctx context.Context, client *http.Client, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.KubeAPIServer+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.KubeToken)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var crd struct {
		Status struct {
			Conditions []struct{ Type, Status string } `json:"conditions"`
		} `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&crd); err != nil {
		return err
	}
	for _, c := range crd.Status.Conditions {
		if c.Type == "Established" && c.Status == "True" {
			return nil
		}
	}
	return errors.New("not established")
}

// Kubectl runs the stack's kubectl against its API server and returns stdout;
// the error carries stderr.
func (s *Stack) Kubectl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return s.kubectl(ctx, nil, args...)
}

func (s *Stack) kubectl(ctx context.Context, stdin *strings.Reader, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.bins.Kubectl, append([]string{"--kubeconfig", s.KubeconfigPath}, args...)...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func (s *Stack) adminToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.admin
}

func (s *Stack) setAdminToken(t string) {
	s.mu.Lock()
	s.admin = t
	s.mu.Unlock()
}

// AdminToken is a session token of Argo CD's admin, renewed by ArgoREST when revoked.
func (s *Stack) AdminToken() string { return s.adminToken() }

// RestartArgoCDServer stops argocd-server and starts it again on the same
// address, returning once it answers; sessions and API keys stay valid (they
// are signed with the key in argocd-secret). The stack stays usable when the
// restart fails: the error says why.
func (s *Stack) RestartArgoCDServer(ctx context.Context) error {
	return s.restart(ctx, "argocd-server", s.argoServerReady)
}

// StopArgoCDServer stops argocd-server only, for tests that look at a client
// facing a server that is down; StartArgoCDServer brings it back.
func (s *Stack) StopArgoCDServer() error {
	p := s.find("argocd-server")
	if p == nil {
		return errors.New("argocd-server is not part of this stack")
	}
	stopGroup(p.pid)
	return nil
}

// StartArgoCDServer starts argocd-server again after StopArgoCDServer.
func (s *Stack) StartArgoCDServer(ctx context.Context) error {
	return s.restart(ctx, "argocd-server", s.argoServerReady)
}

func (s *Stack) find(name string) *proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.procs {
		if p.spec.name == name {
			return p
		}
	}
	return nil
}

func (s *Stack) restart(ctx context.Context, name string, ready step) error {
	old := s.find(name)
	if old == nil {
		return fmt.Errorf("%s is not part of this stack", name)
	}
	stopGroup(old.pid)
	<-old.done
	p, err := startProc(s.StateDir, old.order, old.spec, s.detach)
	if err != nil {
		return err
	}
	s.mu.Lock()
	for i := range s.procs {
		if s.procs[i] == old {
			s.procs[i] = p
		}
	}
	s.mu.Unlock()
	if err := waitReady(ctx, p, 2*time.Minute, ready); err != nil {
		return fmt.Errorf("%s restart: %w\n--- end of log:\n%s", name, err, logTail(s.StateDir, name, 30))
	}
	return nil
}

// Logs returns the last lines of a component's log (e.g. "argocd-server"),
// for a failing test to show before Stop removes them.
func (s *Stack) Logs(component string, lines int) string {
	return logTail(s.StateDir, component, lines)
}

// RSS returns the resident memory of each running component (its whole
// process group), in bytes.
func (s *Stack) RSS() (map[string]int64, error) {
	procs, err := recordedProcs(s.StateDir)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, p := range procs {
		out[p.Name] = p.RSS
	}
	return out, nil
}

// Stop stops every component, last started first, and removes the state
// directory. It is safe to call more than once and from t.Cleanup.
func (s *Stack) Stop() error {
	s.stopped.Do(func() {
		s.mu.Lock()
		procs := append([]*proc(nil), s.procs...)
		s.mu.Unlock()
		for i := len(procs) - 1; i >= 0; i-- {
			stopGroup(procs[i].pid)
		}
		s.stopErr = Down(s.StateDir)
	})
	return s.stopErr
}
