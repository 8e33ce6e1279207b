package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procSpec is how to start one component; kept so it can be started again.
type procSpec struct {
	name string
	path string
	args []string
	env  []string // added to the environment, later entries win
	dir  string   // working directory; empty is this process's
}

// proc is one running component, the leader of its own session and process
// group, so that stopping it also stops what it spawned (git, helm, kustomize).
type proc struct {
	spec  procSpec
	order int
	pid   int
	done  chan struct{}
}

// startProc starts spec with its output in logs/<name>.log and records its pid
// in pids/ so that Down can stop it from another process. Unless detach is set
// the kernel kills it when this process dies, so a test killed by its timeout
// leaves nothing running.
func startProc(stateDir string, order int, spec procSpec, detach bool) (*proc, error) {
	logFile, err := os.OpenFile(filepath.Join(stateDir, "logs", spec.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(spec.path, spec.args...)
	cmd.Env = append(os.Environ(), spec.env...)
	cmd.Dir = spec.dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if !detach {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", spec.name, err)
	}
	p := &proc{spec: spec, order: order, pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	if err := os.WriteFile(pidFile(stateDir, order, spec.name), []byte(strconv.Itoa(p.pid)), 0o600); err != nil {
		stopGroup(p.pid)
		return nil, err
	}
	return p, nil
}

// StartDetached starts one more component in a state directory, beside those
// of Start: detached, in its own session, its output in logs/<name>.log and its
// pid recorded after every other, so that Status lists it and Down stops it
// first. argv[0] is looked up in PATH; dir is its working directory (empty:
// this process's). It returns once the process is started, not ready.
func StartDetached(stateDir, name string, argv []string, env []string, dir string) (pid int, err error) {
	if len(argv) == 0 {
		return 0, errors.New("StartDetached: no command")
	}
	if name == "" || strings.ContainsRune(name, '/') {
		return 0, fmt.Errorf("StartDetached: bad name %q", name)
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return 0, err
	}
	for _, sub := range []string{"logs", "pids"} {
		if err := os.MkdirAll(filepath.Join(stateDir, sub), 0o700); err != nil {
			return 0, err
		}
	}
	order, err := nextOrder(stateDir)
	if err != nil {
		return 0, err
	}
	p, err := startProc(stateDir, order, procSpec{name: name, path: path, args: argv[1:], env: env, dir: dir}, true)
	if err != nil {
		return 0, err
	}
	return p.pid, nil
}

// nextOrder is one more than the highest order recorded in pids/.
func nextOrder(stateDir string) (int, error) {
	entries, err := os.ReadDir(filepath.Join(stateDir, "pids"))
	if err != nil {
		return 0, err
	}
	next := 0
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "-")
		if n, err := strconv.Atoi(prefix); ok && err == nil && n >= next {
			next = n + 1
		}
	}
	return next, nil
}

func pidFile(stateDir string, order int, name string) string {
	return filepath.Join(stateDir, "pids", fmt.Sprintf("%02d-%s.pid", order, name))
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stopGroup ends a process group: SIGTERM, then SIGKILL for what is left after
// a grace period. It returns once no process of the group is left.
func stopGroup(pgid int) {
	if pgid <= 1 {
		return
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	if waitGroupGone(pgid, 10*time.Second) {
		return
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	waitGroupGone(pgid, 10*time.Second)
}

func waitGroupGone(pgid int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if !groupAlive(pgid) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// ProcStatus describes one component found in a state directory.
type ProcStatus struct {
	Name  string
	PID   int
	Alive bool
	// RSS is the resident memory of the component's whole process group, in bytes.
	RSS int64
}

// recordedProcs reads pids/ of a state directory, in start order.
func recordedProcs(stateDir string) ([]ProcStatus, error) {
	entries, err := os.ReadDir(filepath.Join(stateDir, "pids"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	rss := groupRSS()
	var out []ProcStatus
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".pid")
		if !ok {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(stateDir, "pids", e.Name()))
		if err != nil {
			return nil, err
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
		if err != nil {
			continue
		}
		if _, after, ok := strings.Cut(name, "-"); ok {
			name = after
		}
		st := ProcStatus{Name: name, PID: pid, Alive: isGroupLeader(pid)}
		if st.Alive {
			st.RSS = rss[pid]
		}
		out = append(out, st)
	}
	return out, nil
}

// isGroupLeader tells whether pid is alive and still leads its own process
// group, which guards against a pid file whose process is gone and whose pid
// was reused.
func isGroupLeader(pid int) bool {
	st, err := readStat(pid)
	return err == nil && st.pgrp == pid
}

type procStat struct {
	pgrp int
	rss  int64 // pages
}

func readStat(pid int) (procStat, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// The command name may hold spaces and parentheses: fields start after the last ')'.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return procStat{}, errors.New("malformed stat")
	}
	fields := strings.Fields(string(raw[i+1:]))
	// fields[0] is the state (field 3 of proc(5)); pgrp is field 5, rss field 24.
	if len(fields) < 22 || fields[0] == "Z" {
		return procStat{}, errors.New("no such live process")
	}
	pgrp, _ := strconv.Atoi(fields[2])
	rss, _ := strconv.ParseInt(fields[21], 10, 64)
	return procStat{pgrp: pgrp, rss: rss}, nil
}

// groupAlive tells whether a process group has a member that is not a zombie
// (a detached component's zombies wait for whatever reaps orphans here).
func groupAlive(pgid int) bool {
	if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil && st.pgrp == pgid {
			return true
		}
	}
	return false
}

// groupRSS sums resident memory by process group over all processes.
func groupRSS() map[int]int64 {
	out := map[int]int64{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	page := int64(os.Getpagesize())
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil {
			out[st.pgrp] += st.rss * page
		}
	}
	return out
}

// Status reports the components recorded in a state directory (by Start with
// Detach, or a running test's stack).
func Status(stateDir string) ([]ProcStatus, error) {
	return recordedProcs(stateDir)
}

// Down stops every component recorded in stateDir, last started first, and
// removes the directory. It is how a detached stack is stopped from another
// process; a directory without components is just removed.
func Down(stateDir string) error {
	procs, err := recordedProcs(stateDir)
	if err != nil {
		return err
	}
	for i := len(procs) - 1; i >= 0; i-- {
		if procs[i].Alive {
			stopGroup(procs[i].PID)
		}
	}
	return os.RemoveAll(stateDir)
}

// waitReady polls check until it succeeds, the process exits, or ctx ends.
func waitReady(ctx context.Context, p *proc, limit time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last error
	for {
		if p != nil && p.exited() {
			return fmt.Errorf("%s exited during start-up", p.spec.name)
		}
		attempt, cancelAttempt := context.WithTimeout(ctx, 5*time.Second)
		last = check(attempt)
		cancelAttempt()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %w", limit, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// logTail returns the last n lines of a component's log.
func logTail(stateDir, name string, n int) string {
	raw, err := os.ReadFile(filepath.Join(stateDir, "logs", name+".log"))
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
