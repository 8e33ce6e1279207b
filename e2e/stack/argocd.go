package stack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// The account paved uses in the stack: API keys for the action, login for
// paved's session mode; RBAC role admin.
const pavedAccount = "paved"

// PavedPolicy is the least Argo CD RBAC policy paved's account needs (the one
// README documents): on Argo CD 3 the stack gives the paved account exactly
// this, so the suite proves it enough; on 2.14 the account is admin.
const PavedPolicy = `p, role:paved, applications, get, */*, allow
p, role:paved, applications, create, */*, allow
p, role:paved, applications, update, */*, allow
p, role:paved, applications, delete, */*, allow
p, role:paved, applications, sync, */*, allow
p, role:paved, applicationsets, get, */*, allow
p, role:paved, applicationsets, create, */*, allow
p, role:paved, applicationsets, update, */*, allow
p, role:paved, applicationsets, delete, */*, allow
p, role:paved, projects, get, *, allow
p, role:paved, projects, create, *, allow
p, role:paved, projects, update, *, allow
p, role:paved, projects, delete, *, allow
p, role:paved, repositories, get, *, allow
g, ` + pavedAccount + `, role:paved
`

// AppNamespaces is where, beside argocd, Argo CD's server and controller
// take Applications (apps-in-any-namespace, --application-namespaces). A
// project admits an app of such a namespace only when its sourceNamespaces
// lists it.
const AppNamespaces = "apps-*"

// argoConfig is what Argo CD's components read from the argocd namespace at
// start; all of it labelled part-of argocd, which is how Argo CD finds it.
func argoConfig(serverURL, adminPassword, policy string) ([]kubeObject, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(adminPassword), bcrypt.DefaultCost)
	if err != nil {
		return nil, err
	}
	const (
		configMaps = "/api/v1/namespaces/argocd/configmaps"
		label      = "  labels:\n    app.kubernetes.io/part-of: argocd\n"
	)
	cm := func(name, data string) kubeObject {
		return kubeObject{configMaps, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  namespace: argocd\n" + label + data}
	}
	return []kubeObject{
		{"/api/v1/namespaces", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: argocd\n"},
		cm("argocd-cm", "data:\n"+
			"  url: "+quote(serverURL)+"\n"+
			"  admin.enabled: \"true\"\n"+
			"  accounts."+pavedAccount+": apiKey, login\n"),
		cm("argocd-rbac-cm", "data:\n"+
			"  policy.csv: |\n    "+strings.ReplaceAll(strings.TrimSpace(policy), "\n", "\n    ")+"\n"),
		cm("argocd-cmd-params-cm", ""),
		cm("argocd-tls-certs-cm", ""),
		cm("argocd-ssh-known-hosts-cm", ""),
		cm("argocd-gpg-keys-cm", ""),
		{"/api/v1/namespaces/argocd/secrets", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: argocd-secret\n  namespace: argocd\n" + label +
			"type: Opaque\nstringData:\n" +
			"  server.secretkey: " + quote(randomHex(32)) + "\n" +
			"  admin.password: " + quote(string(hash)) + "\n" +
			"  admin.passwordMtime: " + quote(time.Now().UTC().Format(time.RFC3339)) + "\n"},
	}, nil
}

// quote makes a YAML double-quoted scalar (JSON strings are valid YAML).
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// argoEnv is the environment of every Argo CD component: in-cluster mode
// faked through the kubeconfig, and every path Argo CD would take from its
// container image moved into the state directory.
func (s *Stack) argoEnv(binaryName string) []string {
	d := s.argoDir
	env := []string{
		"ARGOCD_BINARY_NAME=" + binaryName,
		"ARGOCD_FAKE_IN_CLUSTER=true",
		"KUBECONFIG=" + s.KubeconfigPath,
		"ARGOCD_GPG_ENABLED=false",
		"ARGOCD_TLS_DATA_PATH=" + filepath.Join(d, "tls"),
		"ARGOCD_SSH_DATA_PATH=" + filepath.Join(d, "ssh"),
		"ARGOCD_ASK_PASS_SOCK=" + filepath.Join(d, "askpass.sock"),
		"ARGOCD_PLUGINSOCKFILEPATH=" + filepath.Join(d, "plugins"),
		"GNUPGHOME=" + filepath.Join(d, "gnupg"),
		"HOME=" + filepath.Join(d, "home"),
		"TMPDIR=" + filepath.Join(d, "tmp", binaryName),
		"PATH=" + filepath.Dir(s.bins.Helm) + string(os.PathListSeparator) +
			filepath.Dir(s.bins.Kustomize) + string(os.PathListSeparator) + os.Getenv("PATH"),
	}
	if s.appResync > 0 {
		// An install's timeout.reconciliation of argocd-cm, which its
		// manifests pass this way to the controller (resync period) and the
		// repo server (how long a branch's resolved commit is cached).
		env = append(env, "ARGOCD_RECONCILIATION_TIMEOUT="+s.appResync.String())
	}
	return env
}

func (s *Stack) argoDirs() error {
	for _, sub := range []string{"tls", "ssh", "plugins", "gnupg", "home",
		"tmp/argocd-server", "tmp/argocd-repo-server", "tmp/argocd-application-controller",
		"tmp/argocd-applicationset-controller"} {
		if err := os.MkdirAll(filepath.Join(s.argoDir, sub), 0o700); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(s.argoDir, "ssh", "ssh_known_hosts"), nil, 0o600)
}

func (s *Stack) argoServerSpec() procSpec {
	return procSpec{
		name: "argocd-server",
		path: s.bins.ArgoCD,
		args: []string{
			"--insecure", "--address", "127.0.0.1", "--port", port(s.ArgoCDAddr),
			"--metrics-address", "127.0.0.1", "--metrics-port", s.ports["argocd-server-metrics"],
			"--namespace", "argocd", "--application-namespaces", AppNamespaces,
			"--repo-server", s.repoServerAddr, "--repo-server-plaintext",
			"--redis", s.redisAddr,
			// No Dex: local accounts only; the port is never listened on.
			"--dex-server", "http://127.0.0.1:1", "--dex-server-plaintext",
		},
		env: s.argoEnv("argocd-server"),
	}
}

func (s *Stack) repoServerSpec() procSpec {
	return procSpec{
		name: "argocd-repo-server",
		path: s.bins.ArgoCD,
		args: []string{
			"--address", "127.0.0.1", "--port", port(s.repoServerAddr), "--disable-tls",
			"--metrics-address", "127.0.0.1", "--metrics-port", s.ports["repo-server-metrics"],
			"--redis", s.redisAddr,
		},
		env: s.argoEnv("argocd-repo-server"),
	}
}

func (s *Stack) controllerSpec() procSpec {
	return procSpec{
		name: "argocd-application-controller",
		path: s.bins.ArgoCD,
		args: []string{
			"--namespace", "argocd", "--application-namespaces", AppNamespaces,
			"--repo-server", s.repoServerAddr, "--repo-server-plaintext",
			"--redis", s.redisAddr,
			// Its metrics server binds every interface; a port of our own avoids clashes.
			"--metrics-port", s.ports["controller-metrics"],
		},
		env: s.argoEnv("argocd-application-controller"),
	}
}

// appSetControllerSpec is the ApplicationSet controller, which generates the
// Applications of an ApplicationSet. Its manager serves no health checks, so
// its metrics endpoint tells that it runs.
func (s *Stack) appSetControllerSpec() procSpec {
	return procSpec{
		name: "argocd-applicationset-controller",
		path: s.bins.ArgoCD,
		args: []string{
			"--namespace", "argocd",
			"--argocd-repo-server", s.repoServerAddr, "--repo-server-plaintext",
			"--metrics-addr", "127.0.0.1:" + s.ports["appset-metrics"],
			"--probe-addr", "127.0.0.1:" + s.ports["appset-probe"],
			"--webhook-addr", "127.0.0.1:" + s.ports["appset-webhook"],
		},
		env: s.argoEnv("argocd-applicationset-controller"),
	}
}

func (s *Stack) appSetControllerReady(ctx context.Context) error {
	return httpOK(ctx, "http://127.0.0.1:"+s.ports["appset-metrics"]+"/metrics")
}

// argoServerReady waits until argocd-server answers /healthz and admin can log in.
func (s *Stack) argoServerReady(ctx context.Context) error {
	if err := httpOK(ctx, "http://"+s.ArgoCDAddr+"/healthz"); err != nil {
		return err
	}
	token, err := s.login(ctx, "admin", s.AdminPassword)
	if err != nil {
		return err
	}
	s.setAdminToken(token)
	return nil
}

func (s *Stack) login(ctx context.Context, user, password string) (string, error) {
	var out struct {
		Token string `json:"token"`
	}
	status, body, err := s.argoDo(ctx, "", http.MethodPost, "/api/v1/session",
		map[string]string{"username": user, "password": password})
	if err != nil {
		return "", err
	}
	if status != http.StatusOK {
		return "", fmt.Errorf("login as %s: %d %s", user, status, body)
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Token == "" {
		return "", fmt.Errorf("login as %s: no token in answer", user)
	}
	return out.Token, nil
}

// createPavedToken makes an API key for the paved account, as an operator would.
func (s *Stack) createPavedToken(ctx context.Context) error {
	status, body, err := s.argoDo(ctx, s.adminToken(), http.MethodPost,
		"/api/v1/account/"+pavedAccount+"/token", map[string]any{"name": pavedAccount, "id": "e2e-" + randomHex(4)})
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("create %s token: %d %s", pavedAccount, status, body)
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Token == "" {
		return fmt.Errorf("create %s token: no token in answer", pavedAccount)
	}
	s.PavedToken = out.Token
	return nil
}

// ArgoREST calls Argo CD's REST API as admin. body is sent as JSON unless it
// is nil, a []byte or a string (sent as is). It returns the status and the
// body of the answer; only a failure to get an answer is an error.
func (s *Stack) ArgoREST(method, path string, body any) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	status, out, err := s.argoDo(ctx, s.adminToken(), method, path, body)
	if err == nil && status == http.StatusUnauthorized {
		// The admin session may have been revoked by a test: log in again once.
		token, lerr := s.login(ctx, "admin", s.AdminPassword)
		if lerr == nil {
			s.setAdminToken(token)
			status, out, err = s.argoDo(ctx, token, method, path, body)
		}
	}
	return status, out, err
}

// ArgoRESTAs is ArgoREST with a bearer token of the caller's choice (empty: none).
func (s *Stack) ArgoRESTAs(token, method, path string, body any) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return s.argoDo(ctx, token, method, path, body)
}

func (s *Stack) argoDo(ctx context.Context, token, method, path string, body any) (int, []byte, error) {
	var reader io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		reader = bytes.NewReader(b)
	case string:
		reader = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+s.ArgoCDAddr+path, reader)
	if err != nil {
		return 0, nil, err
	}
	// Argo CD's gateway refuses a DELETE without it.
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return errors.New(url + ": " + resp.Status)
	}
	return nil
}

// ArgoCDServerCalls counts the unary gRPC calls of method (for example
// "/application.ApplicationService/Get") that argocd-server logged with a
// request naming name. Both Argo CD lines log each call's request, in
// different forms: 2.14 in logrus' text form with the request in protobuf
// text (grpc.request.content="name:\"app\" …"), 3.x in JSON, its default
// log format from 3.0 on, with the request as a JSON object
// ("grpc.request.content":{"name":"app",…}).
func (s *Stack) ArgoCDServerCalls(method, name string) int {
	return countUnaryCalls(s.Logs("argocd-server", 1<<20), method, name)
}

func countUnaryCalls(log, method, name string) int {
	msg := "received unary call " + method
	// logrus' text formatter quotes a value holding quotes with %q.
	textMsg := "msg=" + strconv.Quote(msg) + " "
	textName := strings.Trim(strconv.Quote("name:"+strconv.Quote(name)), `"`)
	n := 0
	for _, line := range strings.Split(log, "\n") {
		if strings.HasPrefix(line, "{") {
			var e struct {
				Msg     string `json:"msg"`
				Request struct {
					Name string `json:"name"`
				} `json:"grpc.request.content"`
			}
			if json.Unmarshal([]byte(line), &e) == nil && e.Msg == msg && e.Request.Name == name {
				n++
			}
			continue
		}
		_, content, ok := strings.Cut(line, ` grpc.request.content="`)
		if ok && strings.Contains(line, textMsg) &&
			(strings.HasPrefix(content, textName) || strings.Contains(content, " "+textName)) {
			n++
		}
	}
	return n
}
