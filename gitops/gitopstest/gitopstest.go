// Package gitopstest serves real git repositories for tests: a bare
// repository behind Debian's git daemon on loopback, with pushes enabled.
package gitopstest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paved-dev/paved/e2e/loopback"
)

// Serve starts git daemon serving a new, empty bare repository (branch main)
// and returns its git:// URL and its directory. The test is skipped when git
// is not installed.
func Serve(t testing.TB) (url, dir string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed (apt-get install -y git)")
	}
	root := t.TempDir()
	dir = filepath.Join(root, "deploy.git")
	Git(t, "", "init", "--quiet", "--bare", "--initial-branch=main", dir)
	for attempt := 1; ; attempt++ {
		addr, err := daemon(t, root)
		if err == nil {
			return "git://" + addr + "/deploy.git", dir
		}
		// The port was free when picked, but another process may have bound
		// it before git daemon did: try another one.
		if attempt == 3 {
			t.Fatalf("git daemon: %v", err)
		}
	}
}

// daemon starts git daemon serving root on a free loopback port and returns
// its address once the daemon itself listens there.
func daemon(t testing.TB, root string) (string, error) {
	t.Helper()
	port, err := loopback.FreePort()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack", "--verbose", "--log-destination=stderr",
		"--base-path="+root, "--listen=127.0.0.1", fmt.Sprintf("--port=%d", port), root)
	// Its own process group, so that the clean-up also ends the children it
	// forks per connection.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logs, err := cmd.StderrPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	// "Ready to rumble" is logged once its sockets are bound; a daemon that
	// could not bind exits (a dial could reach whoever holds the port).
	ready := make(chan bool, 1)
	var said strings.Builder
	go func() {
		sc := bufio.NewScanner(logs)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Ready to rumble") {
				ready <- true
				break
			}
			said.WriteString(sc.Text() + "\n")
		}
		close(ready)
		_, _ = io.Copy(io.Discard, logs) // its per-connection lines
	}()
	stop := func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() }
	select {
	case ok := <-ready:
		if !ok {
			stop()
			return "", fmt.Errorf("git daemon on port %d exited: %s", port, strings.TrimSpace(said.String()))
		}
	case <-time.After(time.Minute):
		stop()
		return "", fmt.Errorf("git daemon did not listen on port %d within a minute", port)
	}
	t.Cleanup(stop)
	return fmt.Sprintf("127.0.0.1:%d", port), nil
}

// FreePort returns a loopback port that was free a moment ago, below the
// ephemeral range when it can (see e2e/loopback).
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := loopback.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// Git runs git in dir and returns its trimmed output, failing the test on error.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// Files lists the files of a branch of the bare repository dir ("" when it has none).
func Files(t testing.TB, dir, branch string) []string {
	t.Helper()
	out := Git(t, dir, "ls-tree", "-r", "--name-only", branch)
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// Commits counts the commits of a branch; 0 when the branch does not exist.
func Commits(t testing.TB, dir, branch string) int {
	t.Helper()
	cmd := exec.Command("git", "rev-list", "--count", branch)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return 0
	}
	var n int
	fmt.Sscan(string(out), &n)
	return n
}
