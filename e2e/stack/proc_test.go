package stack

import (
	"os"
	"path/filepath"
	"testing"
)

// TestStartDetachedIsStoppedByDown checks that an extra component is recorded
// after the others, reported by Status, and stopped with its group by Down.
func TestStartDetachedIsStoppedByDown(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(filepath.Join(dir, "pids"), 0o700); err != nil {
		t.Fatal(err)
	}
	// A component of Start, already gone: the extra one must come after it.
	if err := os.WriteFile(pidFile(dir, 7, "etcd"), []byte("999999999"), 0o600); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	pid, err := StartDetached(dir, "sleeper", []string{"sh", "-c", "pwd; echo $EXTRA; sleep 300 & wait"}, []string{"EXTRA=from-env"}, work)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pidFile(dir, 8, "sleeper")); err != nil {
		t.Fatalf("pid file not recorded after order 7: %v", err)
	}
	procs, err := Status(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(procs) != 2 || procs[1].Name != "sleeper" || procs[1].PID != pid || !procs[1].Alive {
		t.Fatalf("Status = %+v, want sleeper (pid %d) alive after etcd", procs, pid)
	}
	if err := Down(dir); err != nil {
		t.Fatal(err)
	}
	if groupAlive(pid) {
		t.Fatalf("process group %d still alive after Down", pid)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("state directory left after Down: %v", err)
	}
}

func TestStartDetachedRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	if _, err := StartDetached(dir, "x", nil, nil, ""); err == nil {
		t.Fatal("no command: want an error")
	}
	if _, err := StartDetached(dir, "a/b", []string{"true"}, nil, ""); err == nil {
		t.Fatal("name with '/': want an error")
	}
}
