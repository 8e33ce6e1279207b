package main

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// testPlatforms are the host's platform, plus whatever
// PAVED_IMAGE_TEST_PLATFORMS lists (a cross build of paved costs minutes cold).
func testPlatforms() []string {
	if v := os.Getenv("PAVED_IMAGE_TEST_PLATFORMS"); v != "" {
		return strings.Split(v, ",")
	}
	return []string{"linux/" + runtime.GOARCH}
}

func testOptions(out string) Options {
	return Options{
		Root: "../..", Out: out, Platforms: testPlatforms(),
		Version: "v1.2.3-test", Revision: "0123456789abcdef0123456789abcdef01234567",
		Source: "https://github.com/paved-dev/paved", Created: time.Unix(1764720000, 0),
		CACerts: "/etc/ssl/certs/ca-certificates.crt",
	}
}

// TestImage builds the image twice and checks what a registry, a runtime and
// a person would: the same digest both times, a layout and tarball that pass
// go-containerregistry's validation (crane validate), a push and pull through
// a registry, the OCI labels, a non-root user, CA certificates, and a paved
// binary that runs and serves /healthz.
func TestImage(t *testing.T) {
	if _, err := os.Stat(testOptions("").CACerts); err != nil {
		t.Skipf("no CA bundle on this machine: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	first, err := Build(ctx, testOptions(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	second, err := Build(ctx, testOptions(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if first.Digest != second.Digest {
		t.Errorf("two builds of one commit: digests %s and %s", first.Digest, second.Digest)
	}
	for p, d := range first.Images {
		if second.Images[p] != d {
			t.Errorf("%s: image digests %s and %s", p, d, second.Images[p])
		}
	}

	// The layout as a publisher reads it from disk.
	lp, err := layout.ImageIndexFromPath(first.LayoutDir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := lp.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Manifests) != 1 || top.Manifests[0].Digest != first.Digest ||
		top.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "v1.2.3-test" {
		t.Fatalf("index.json: %+v, want one entry %s named v1.2.3-test", top.Manifests, first.Digest)
	}
	idx, err := lp.ImageIndex(first.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(idx); err != nil {
		t.Fatalf("validate layout: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != len(testPlatforms()) {
		t.Errorf("index has %d manifests, want %d", len(im.Manifests), len(testPlatforms()))
	}
	for _, k := range []string{"source", "revision", "version", "created"} {
		if im.Annotations["org.opencontainers.image."+k] == "" {
			t.Errorf("index annotation org.opencontainers.image.%s missing", k)
		}
	}

	for _, p := range testPlatforms() {
		img, err := platformImage(first.LayoutDir, p)
		if err != nil {
			t.Fatal(err)
		}
		checkConfig(t, img, p)
		checkFiles(t, img)
		tb, err := tarball.ImageFromPath(first.Tarballs[p], nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(tb); err != nil {
			t.Errorf("validate tarball %s: %v", p, err)
		}
		// A docker-style tarball carries the config and layers, not the
		// manifest: the same config is the same image.
		if got, want := configName(t, tb), configName(t, img); got != want {
			t.Errorf("tarball %s config %s, layout %s", p, got, want)
		}
	}

	// Published through the registry protocol and pulled back unchanged.
	reg := httptest.NewServer(registry.New(registry.Logger(nilLogger())))
	defer reg.Close()
	ref, err := name.ParseReference(strings.TrimPrefix(reg.URL, "http://") + "/platform/paved:v1.2.3-test")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx)); err != nil {
		t.Fatalf("push: %v", err)
	}
	pulled, err := remote.Index(ref, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	if d, _ := pulled.Digest(); d != first.Digest {
		t.Errorf("pulled digest %s, pushed %s", d, first.Digest)
	}
	if err := validate.Index(pulled); err != nil {
		t.Errorf("validate pulled: %v", err)
	}

	runBinary(t, ctx, first.LayoutDir)
}

func checkConfig(t *testing.T, img v1.Image, platform string) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := cf.OS + "/" + cf.Architecture; got != platform {
		t.Errorf("config platform %s, want %s", got, platform)
	}
	if cf.Config.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532 (non-root)", cf.Config.User)
	}
	if len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != BinaryPath {
		t.Errorf("entrypoint %v", cf.Config.Entrypoint)
	}
	want := map[string]string{
		"org.opencontainers.image.source":   "https://github.com/paved-dev/paved",
		"org.opencontainers.image.revision": "0123456789abcdef0123456789abcdef01234567",
		"org.opencontainers.image.version":  "v1.2.3-test",
		"org.opencontainers.image.created":  "2025-12-03T00:00:00Z",
	}
	for k, v := range want {
		if cf.Config.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, cf.Config.Labels[k], v)
		}
	}
	if !cf.Created.Equal(time.Unix(1764720000, 0)) {
		t.Errorf("created %s: the build's clock leaked in", cf.Created)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Annotations["org.opencontainers.image.revision"] != want["org.opencontainers.image.revision"] {
		t.Errorf("manifest annotations %v", m.Annotations)
	}
}

func checkFiles(t *testing.T, img v1.Image) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	seen := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[strings.TrimSuffix(h.Name, "/")] = h
		if !h.ModTime.Equal(time.Unix(1764720000, 0)) {
			t.Errorf("%s: mtime %s, want the commit's time", h.Name, h.ModTime)
		}
	}
	checks := []struct {
		path string
		mode int64
		uid  int
	}{
		{"usr/local/bin/paved", 0o755, 0},
		{"etc/ssl/certs/ca-certificates.crt", 0o644, 0},
		{"etc/passwd", 0o644, 0},
		{"tmp", 0o1777, 0},
		{"var/lib/paved", 0o750, UID},
		{"home/paved", 0o700, UID},
	}
	for _, c := range checks {
		h := seen[c.path]
		if h == nil {
			t.Errorf("%s missing from the image", c.path)
			continue
		}
		if h.Mode != c.mode || h.Uid != c.uid || h.Gid != c.uid {
			t.Errorf("%s: mode %o uid %d gid %d, want %o %d", c.path, h.Mode, h.Uid, h.Gid, c.mode, c.uid)
		}
	}
	if h := seen["etc/ssl/certs/ca-certificates.crt"]; h != nil && h.Size < 10000 {
		t.Errorf("CA bundle of %d bytes", h.Size)
	}
}

// runBinary unpacks the host's image and runs its paved: `paved version`
// prints the stamped version, and `paved serve` answers /healthz.
func runBinary(t *testing.T, ctx context.Context, layoutDir string) {
	t.Helper()
	img, err := platformImage(layoutDir, "linux/"+runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := extract(img, root); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, BinaryPath)
	out, err := exec.CommandContext(ctx, bin, "version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "paved v1.2.3-test" {
		t.Fatalf("paved version: %q %v", out, err)
	}
	// paved picks its own port and says which: a port picked here and
	// freed could be taken by another process before paved binds it.
	cmd := exec.CommandContext(ctx, bin, "serve")
	cmd.Env = []string{"PAVED_LISTEN=127.0.0.1:0", "PAVED_DATA_DIR=" + t.TempDir(), "SSL_CERT_FILE=" + filepath.Join(root, CACertPath)}
	logged := &lockedLog{}
	cmd.Stdout, cmd.Stderr = logged, logged
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		err := errors.New("not listening yet")
		if m := listening.FindStringSubmatch(logged.String()); m != nil {
			var resp *http.Response
			if resp, err = http.Get(m[1] + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz: %v\n%s", err, logged.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var listening = regexp.MustCompile(`is listening on (http://\S+)`)

// lockedLog is the output of the paved process, read while it runs.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func nilLogger() *log.Logger { return log.New(io.Discard, "", 0) }

func configName(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h
}
