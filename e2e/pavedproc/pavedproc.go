// Package pavedproc builds the real paved binary once and runs it for the
// end-to-end suite, exactly as an operator would: a config file, environment
// variables, SIGTERM to stop.
package pavedproc

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/paved-dev/paved/e2e/loopback"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds cmd/paved into a temporary directory once per test process;
// Main removes it when the process's tests are done.
func Binary() (string, error) {
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "paved-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "paved")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/paved")
		cmd.Dir = root
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/paved: %v\n%s", err, out.String())
		}
	})
	return binPath, buildErr
}

// Main runs a package's tests (its TestMain) and then removes the binary
// Binary built, so each test process does not leave one in the temporary
// directory (about 160 MB a run).
func Main(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// FreeAddr returns a free loopback host:port (see package loopback).
func FreeAddr() (string, error) { return loopback.FreeAddr() }

// Options start one paved.
type Options struct {
	Addr     string // host:port; empty picks a free one
	Config   string // YAML content of the config file
	Env      []string
	DataDir  string // empty: a temporary directory
	Database string // PostgreSQL URL; empty: SQLite in the data directory
}

// Paved is a running paved process.
type Paved struct {
	Addr    string
	BaseURL string // http://host:port
	DataDir string
	Token   string // the local CLI token paved wrote
	cmd     *exec.Cmd
	log     *bytes.Buffer
	mu      *sync.Mutex
	exited  chan struct{}
}

type lockedBuffer struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (l lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// sharedInfraKey is the infra key (32 bytes, base64) of every paved started
// on a database.
const sharedInfraKey = "ZTJlLXNoYXJlZC1pbmZyYS1rZXktMDEyMzQ1Njc4OWE="

// Start runs paved and waits until /healthz answers.
func Start(t testing.TB, o Options) *Paved {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	if o.Addr == "" {
		if o.Addr, err = FreeAddr(); err != nil {
			t.Fatal(err)
		}
	}
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	cfgPath := filepath.Join(o.DataDir, "paved.yaml")
	if err := os.WriteFile(cfgPath, []byte(o.Config), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &Paved{Addr: o.Addr, BaseURL: "http://" + o.Addr, DataDir: o.DataDir, log: &bytes.Buffer{}, mu: &sync.Mutex{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve")
	p.cmd.Env = append(os.Environ(), "PAVED_CONFIG="+cfgPath, "PAVED_LISTEN="+o.Addr, "PAVED_DATA_DIR="+o.DataDir, "PAVED_LOG_LEVEL=debug")
	if o.Database != "" {
		// Processes on one database share the infra key, as replicas must: it
		// seals the credentials and the signing keys in the store. o.Env may
		// set another (the last value of a variable wins).
		p.cmd.Env = append(p.cmd.Env, "PAVED_DATABASE_URL="+o.Database, "PAVED_INFRA_KEY="+sharedInfraKey)
	}
	p.cmd.Env = append(p.cmd.Env, o.Env...)
	w := lockedBuffer{p.mu, p.log}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("paved log:\n%s", p.Log())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-p.exited:
			t.Fatalf("paved exited during start:\n%s", p.Log())
		default:
		}
		resp, err := http.Get(p.BaseURL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("paved did not become healthy:\n%s", p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if b, err := os.ReadFile(filepath.Join(o.DataDir, "local-token")); err == nil {
		p.Token = strings.TrimSpace(string(b))
	}
	return p
}

// Log returns what paved printed so far.
func (p *Paved) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// Stop sends SIGTERM and waits; it kills paved after 30 s.
func (p *Paved) Stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	}
}

// Kill ends paved with SIGKILL, as a crash or an OOM kill would, and waits
// until it is gone.
func (p *Paved) Kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exited
}

// CLI runs a client command of the paved binary against this paved.
func (p *Paved) CLI(ctx context.Context, stdin string, args ...string) (string, error) {
	bin, err := Binary()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "PAVED_URL="+p.BaseURL, "PAVED_TOKEN="+p.Token)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%v: %s", err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}
