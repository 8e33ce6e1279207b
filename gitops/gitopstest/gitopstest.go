// Package gitopstest serves real git repositories for tests: a bare
// repository behind Debian's git daemon on loopback, with pushes enabled.
package gitopstest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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
	port := FreePort(t)
	cmd := exec.Command("git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack",
		"--base-path="+root, "--listen=127.0.0.1", fmt.Sprintf("--port=%d", port), root)
	// Its own process group, so that the clean-up also ends the children it
	// forks per connection.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("git daemon: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if i > 400 {
			t.Fatalf("git daemon did not listen on %s: %v", addr, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	return "git://" + addr + "/deploy.git", dir
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
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
