package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/backstage"
	"github.com/paved-dev/paved/scaffolder"
	"github.com/paved-dev/paved/server"
	"github.com/paved-dev/paved/sqlstore/sqlite"
	"github.com/paved-dev/paved/telemetry"
)

// BenchmarkInvokeOverhead measures paved's own cost of one invoke of
// paved:create-argocd-app with the Argo CD call excluded (it answers at
// once), against the target: p99 ≤ 20 ms with 200 requests in flight on
// 2 cores.
//
// What it models, and why:
//   - paved runs in its own process (this test binary started again as
//     TestInvokeServerProcess), wired as cmd/paved wires it: the real router
//     and middleware, the real verifier fetching keys over HTTP, the real
//     registry and actions, the SQLite audit log, the OpenTelemetry SDK
//     providers with the Prometheus reader and info-level logging. Its CPU
//     time is read from the process itself, so the load generator's own
//     work is not counted: "server-cpu-µs/op" is what one invoke costs paved.
//   - Each request carries a token of its own, as Backstage sends them:
//     DefaultActionsService.invoke asks auth.getPluginRequestToken for every
//     call, and DefaultPluginTokenHandler.issueToken signs a new JWT each
//     time (new iat, new ECDSA signature; no cache). So paved verifies one
//     ES256 signature per request. The obo claim is the task initiator's
//     limited user token, which Backstage derives from the user token
//     without signing anew (the same string for all of a user's calls); 50
//     users share the load. Tokens are signed before the clock starts:
//     signing is Backstage's cost.
//   - 200 clients each keep one HTTP/1.1 keep-alive connection (as Node's
//     agent does) and send the next request as soon as the previous answer
//     arrived, so 200 requests are always in flight. They write pre-built
//     requests on raw connections and read just the status and body, so the
//     generator costs little next to paved; on a 2-core machine it still
//     shares the cores with paved, which makes the latencies pessimistic.
//
// The machine may be shared: "load1" is the 1-minute load average at the
// end, to read the wall-clock figures against.
func BenchmarkInvokeOverhead(b *testing.B) {
	const (
		concurrency = 200
		users       = 50
	)
	keys := newBackstageKeys(b)
	limited := make([]string, users)
	for i := range limited {
		limited[i] = keys.limitedUserToken(b, fmt.Sprintf("user:default/dev%02d", i))
	}
	body := []byte(`{"name":"svc","source":{"repoURL":"https://git.example.com/deploy.git","path":"apps/svc"},"destination":{"namespace":"svc"},"automated":{"prune":true},"entityRef":"component:default/svc"}`)
	srv := startServerProcess(b, keys.URL)
	requests := make([][]byte, b.N)
	for i := range requests {
		requests[i] = invokeRequest(srv.addr, keys.pluginToken(b, limited[i%users]), body)
	}
	conns := make([]net.Conn, concurrency)
	for i := range conns {
		c, err := net.Dial("tcp", srv.addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	// A running paved has fetched the JWKS, prepared its statements and
	// seen its users: one untimed round warms every connection.
	warm := make([][]byte, len(conns))
	for i := range warm {
		warm[i] = invokeRequest(srv.addr, keys.pluginToken(b, limited[i%users]), body)
	}
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Write(warm[i]); err != nil {
				b.Error(err)
				return
			}
			if status, err := readResponse(bufio.NewReader(c)); err != nil || status != http.StatusOK {
				b.Errorf("warm-up: status %d, %v", status, err)
			}
		}()
	}
	wg.Wait()
	latencies := make([]time.Duration, b.N)
	var next atomic.Int64
	b.ResetTimer()
	cpu0, clientCPU0 := srv.cpu(b), processCPU()
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := bufio.NewReaderSize(c, 4096)
			for {
				n := int(next.Add(1) - 1)
				if n >= b.N {
					return
				}
				start := time.Now()
				if _, err := c.Write(requests[n]); err != nil {
					b.Error(err)
					return
				}
				status, err := readResponse(r)
				latencies[n] = time.Since(start)
				if err != nil || status != http.StatusOK {
					b.Errorf("invoke %d: status %d, %v", n, status, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	cpu, clientCPU := srv.cpu(b)-cpu0, processCPU()-clientCPU0
	b.StopTimer()
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "server-cpu-µs/op")
	b.ReportMetric(float64(clientCPU.Microseconds())/float64(b.N), "client-cpu-µs/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "invokes/s")
	b.ReportMetric(loadAverage(), "load1")
	if b.N >= 1000 {
		fmt.Printf("invoke overhead at %d in flight: p50 %.2f ms, p99 %.2f ms, paved CPU %.0f µs per invoke (load average %.2f)\n",
			concurrency, pct(0.5), pct(0.99), float64(cpu.Microseconds())/float64(b.N), loadAverage())
	}
}

// invokeRequest is the HTTP/1.1 request Backstage's actions service sends.
func invokeRequest(host, token string, body []byte) []byte {
	var req bytes.Buffer
	fmt.Fprintf(&req, "POST /api/paved/.backstage/actions/v1/actions/paved%%3Acreate-argocd-app/invoke HTTP/1.1\r\n"+
		"Host: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nAccept: */*\r\n"+
		"Accept-Encoding: gzip, deflate\r\nUser-Agent: node\r\nConnection: keep-alive\r\nContent-Length: %d\r\n\r\n",
		host, token, len(body))
	req.Write(body)
	return req.Bytes()
}

// readResponse reads one response with a Content-Length body (paved always
// sends one for JSON) and returns its status.
func readResponse(r *bufio.Reader) (int, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length := -1
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		h := bytes.TrimRight(line, "\r\n")
		if len(h) == 0 {
			break
		}
		if name, value, ok := bytes.Cut(h, []byte(":")); ok && bytes.EqualFold(name, []byte("Content-Length")) {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(value))); err != nil {
				return 0, err
			}
		}
	}
	if length < 0 {
		return 0, fmt.Errorf("response without Content-Length")
	}
	_, err = r.Discard(length)
	return status, err
}

// backstageKeys stand in for a Backstage backend: the scaffolder's service
// key and the auth plugin's user-token key, with their JWKS served over HTTP.
type backstageKeys struct {
	URL              string
	scaffolder, auth *ecdsa.PrivateKey
}

func newBackstageKeys(b *testing.B) *backstageKeys {
	k := &backstageKeys{}
	var err error
	if k.scaffolder, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		b.Fatal(err)
	}
	if k.auth, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		b.Fatal(err)
	}
	jwks := func(kid string, key *ecdsa.PrivateKey) []byte {
		b64 := base64.RawURLEncoding.EncodeToString
		out, _ := json.Marshal(map[string]any{"keys": []any{map[string]any{"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
			"x": b64(key.X.FillBytes(make([]byte, 32))), "y": b64(key.Y.FillBytes(make([]byte, 32)))}}})
		return out
	}
	pages := map[string][]byte{
		"/api/scaffolder/.backstage/auth/v1/jwks.json": jwks("scaffolder-key", k.scaffolder),
		"/api/auth/.well-known/jwks.json":              jwks("auth-key", k.auth),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(page)
	}))
	b.Cleanup(srv.Close)
	k.URL = srv.URL
	return k
}

func sign(b *testing.B, typ, kid string, claims jwt.MapClaims, key *ecdsa.PrivateKey) string {
	t := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	t.Header["typ"], t.Header["kid"] = typ, kid
	s, err := t.SignedString(key)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// limitedUserToken is what Backstage puts in obo: sub, iat and exp of the
// user's token, signed by the auth plugin.
func (k *backstageKeys) limitedUserToken(b *testing.B, user string) string {
	now := time.Now()
	return sign(b, backstage.TypLimitedUser, "auth-key", jwt.MapClaims{"sub": user, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}, k.auth)
}

// pluginToken is a fresh scaffolder token for paved, on behalf of a user.
func (k *backstageKeys) pluginToken(b *testing.B, obo string) string {
	now := time.Now()
	return sign(b, backstage.TypPlugin, "scaffolder-key", jwt.MapClaims{"sub": "scaffolder", "aud": "paved",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "obo": obo}, k.scaffolder)
}

// serverProcess is paved in a child process (TestInvokeServerProcess).
type serverProcess struct {
	addr  string
	stdin io.Writer
	out   *bufio.Reader
}

func startServerProcess(b *testing.B, backstageURL string) *serverProcess {
	b.Helper()
	args := []string{"-test.run=^TestInvokeServerProcess$"}
	// Profiles of paved's side, for go tool pprof with the test binary.
	if p := os.Getenv("PAVED_BENCH_SERVER_CPUPROFILE"); p != "" {
		args = append(args, "-test.cpuprofile="+p)
	}
	if p := os.Getenv("PAVED_BENCH_SERVER_MEMPROFILE"); p != "" {
		args = append(args, "-test.memprofile="+p)
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "PAVED_BENCH_SERVER_DIR="+b.TempDir(), "PAVED_BENCH_BACKSTAGE="+backstageURL)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close() // the child stops at the end of its input
		cmd.Wait()
	})
	p := &serverProcess{stdin: stdin, out: bufio.NewReader(stdout)}
	line, err := p.out.ReadString('\n')
	if err != nil {
		b.Fatalf("paved process did not start: %v", err)
	}
	p.addr = strings.TrimPrefix(strings.TrimSpace(line), "listening ")
	return p
}

// cpu asks the child for the CPU time it used so far.
func (p *serverProcess) cpu(b *testing.B) time.Duration {
	if _, err := io.WriteString(p.stdin, "cpu\n"); err != nil {
		b.Fatal(err)
	}
	line, err := p.out.ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
	if err != nil {
		b.Fatalf("paved process answered %q", line)
	}
	return time.Duration(ns)
}

// TestInvokeServerProcess is not a test: it is paved's side of
// BenchmarkInvokeOverhead, started by the benchmark in a process of its
// own. It serves until its standard input ends and answers "cpu" lines with
// its CPU time in nanoseconds.
func TestInvokeServerProcess(t *testing.T) {
	dir := os.Getenv("PAVED_BENCH_SERVER_DIR")
	if dir == "" {
		t.Skip("started by BenchmarkInvokeOverhead only")
	}
	ctx := context.Background()
	tel, err := telemetry.Setup(ctx, telemetry.Options{ServiceName: "paved", Version: paved.Version})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(ctx)
	logger := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	store, err := sqlite.Open(ctx, filepath.Join(dir, "paved.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	signer, err := backstage.NewSigner(ctx, store, "paved", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := backstage.NewVerifier(backstage.VerifierConfig{AllowedPlugins: []string{"scaffolder", "mcp-actions"}, PluginID: "paved", Logger: logger,
		Discovery: backstage.NewDiscovery(os.Getenv("PAVED_BENCH_BACKSTAGE")+"/api/{{pluginId}}", nil)})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := scaffolder.NewRegistry(scaffolder.RegistryOptions{PluginID: "paved", Recorder: store, Logger: logger,
		Meter:  tel.Meter.Meter("github.com/paved-dev/paved/scaffolder"),
		Tracer: tel.Tracer.Tracer("github.com/paved-dev/paved/scaffolder")})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(scaffolder.AppActions(scaffolder.AppActionsOptions{Apps: instantApps{}})...); err != nil {
		t.Fatal(err)
	}
	h := server.New(server.Deps{PluginID: "paved", Logger: logger, Auth: verifier, Actions: reg, Keys: signer,
		Invocations: store, Metrics: tel.Metrics, TracerProvider: tel.Tracer, MeterProvider: tel.Meter})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	fmt.Printf("listening %s\n", ln.Addr())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() == "cpu" {
			fmt.Printf("%d\n", processCPU())
		}
	}
}

// processCPU is the CPU time this process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAverage is the machine's 1-minute load average (0 where /proc is missing).
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _, _ := strings.Cut(string(b), " ")
	v, _ := strconv.ParseFloat(f, 64)
	return v
}
