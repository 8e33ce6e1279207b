// Command devstack builds and runs the end-to-end stack of e2e/stack (etcd,
// redis, kube-apiserver, kube-controller-manager, Argo CD, a git daemon), a
// paved on 127.0.0.1:7010 and a Backstage backend on 127.0.0.1:7007 wired to
// it with the templates of examples/templates, for a person to use by hand,
// and leaves them running until "down".
//
//	go run ./e2e/cmd/devstack build    # build the binaries into e2e/.cache (first time: minutes)
//	go run ./e2e/cmd/devstack up       # start, write e2e/.run/stack/stack.env, print addresses
//	go run ./e2e/cmd/devstack status   # components, pids, memory
//	go run ./e2e/cmd/devstack down     # stop everything, remove e2e/.run/stack
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/paved-dev/paved/e2e/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
}

const usage = "usage: devstack [-dir DIR] [-argocd v2|v3|both] build|up|down|status"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("devstack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "state directory (default e2e/.run/stack under the repository root)")
	argo := fs.String("argocd", "", `Argo CD line "build" builds: v2 (default), v3 or both`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New(usage)
	}
	root, err := stack.FindRoot()
	if err != nil {
		return err
	}
	if *dir == "" {
		*dir = filepath.Join(root, "e2e", ".run", "stack")
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "devstack: "+format+"\n", a...) }
	switch fs.Arg(0) {
	case "build":
		began := time.Now()
		// Gitea too: CI builds every binary here, once, before the suite.
		bins, err := stack.Build(ctx, stack.BuildOptions{Root: root, Logf: logf, ArgoCD: *argo, Gitea: true})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "binaries ready in %s: %s\n", time.Since(began).Round(time.Second), filepath.Dir(bins.ArgoCD))
		return nil
	case "up":
		return up(ctx, root, *dir, stdout, logf)
	case "down":
		if err := stack.Down(*dir); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "stack stopped")
		return nil
	case "status":
		return status(*dir, stdout)
	default:
		return errors.New(usage)
	}
}

func up(ctx context.Context, root, dir string, stdout io.Writer, logf func(string, ...any)) error {
	procs, err := stack.Status(dir)
	if err != nil {
		return err
	}
	if len(procs) > 0 {
		if allAlive(procs) {
			fmt.Fprintln(stdout, "stack already up")
			return printEnv(dir, stdout)
		}
		logf("removing a stack that is partly down")
		if err := stack.Down(dir); err != nil {
			return err
		}
	}
	s, err := stack.Start(ctx, stack.Options{StateDir: dir, Root: root, Logf: logf, Detach: true, AppResync: appResync})
	if err != nil {
		return err
	}
	gitopsURL, err := s.AddGitOpsRoot(ctx)
	if err != nil {
		return fmt.Errorf("%w (the rest of the stack is running: devstack down stops it)", err)
	}
	services, err := startServices(ctx, root, dir, s, gitopsURL, logf)
	if err != nil {
		return fmt.Errorf("%w (the rest of the stack is running: devstack down stops it)", err)
	}
	env := []envVar{
		{"ARGOCD_ADDR", s.ArgoCDAddr},
		{"ARGOCD_URL", "http://" + s.ArgoCDAddr},
		{"ARGOCD_TOKEN", s.PavedToken},
		{"ARGOCD_ADMIN_PASSWORD", s.AdminPassword},
		{"KUBECONFIG", s.KubeconfigPath},
		{"KUBECTL", s.Bins().Kubectl},
		{"KUBE_APISERVER", s.KubeAPIServer},
		{"KUBE_TOKEN", s.KubeToken},
		{"GIT_BASE_URL", "git://" + s.GitAddr},
		{"GITOPS_URL", gitopsURL},
	}
	env = append(env, services...)
	var b strings.Builder
	b.WriteString("# Written by devstack up; secrets inside: do not commit or paste.\n")
	for _, kv := range env {
		fmt.Fprintf(&b, "%s='%s'\n", kv.key, kv.value)
	}
	if err := os.WriteFile(envPath(dir), []byte(b.String()), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "stack up in %s\n", s.Startup.Round(time.Millisecond))
	for _, t := range s.Timings {
		fmt.Fprintf(stdout, "  %-30s %s\n", t.Component, t.Duration.Round(time.Millisecond))
	}
	if err := printEnv(dir, stdout); err != nil {
		return err
	}
	printTry(stdout, dir, s)
	return nil
}

// appResync is the dev stack's Argo CD timeout.reconciliation: its git
// daemon sends no webhook, so the root application looks at the GitOps
// repository this often (Argo CD's default is 3 minutes).
const appResync = 10 * time.Second

// printTry prints a first run a newcomer can paste: the recommended golden
// path (paved commits the service's Application to the GitOps repository;
// the root application creates it in Argo CD within appResync, and Argo CD
// deploys the stack's "plain" fixture), then where the result shows, then
// the ApplicationSet template, which creates its Applications through Argo
// CD's API at once.
func printTry(stdout io.Writer, dir string, s *stack.Stack) {
	const tasks = `curl -s -H "Authorization: Bearer $BACKSTAGE_TOKEN" -H 'Content-Type: application/json' "$BACKSTAGE_URL/api/scaffolder/v2/tasks" -d '%s'   # answers {"id":"<id>"}` + "\n"
	service := fmt.Sprintf(`{"templateRef":"template:default/paved-new-service","values":{"name":"hello","owner":"group:default/platform","repoUrl":"%s","path":".","revision":"main"}}`,
		s.GitURL("plain"))
	fmt.Fprintf(stdout, "try the golden path (template paved-new-service: paved commits apps/hello.yaml to $GITOPS_URL, the root application paved-root creates the Argo CD application hello within %s):\n", appResync)
	fmt.Fprintf(stdout, "  . %s\n", envPath(dir))
	fmt.Fprintf(stdout, "  "+tasks, service)
	fmt.Fprintf(stdout, "  curl -s -H \"Authorization: Bearer $BACKSTAGE_TOKEN\" \"$BACKSTAGE_URL/api/scaffolder/v2/tasks/<id>/events\"   # the task log: the commit, or paved's reason\n")
	fmt.Fprintf(stdout, "  curl -s -H \"Authorization: Bearer $ARGOCD_TOKEN\" \"$ARGOCD_URL/api/v1/applications/hello\"   # the app in Argo CD: Synced and Healthy (permission denied until the root application made it)\n")
	fmt.Fprintf(stdout, "  \"$KUBECTL\" --kubeconfig \"$KUBECONFIG\" -n hello get deployments   # what Argo CD deployed\n")
	fmt.Fprintf(stdout, "  curl -s -H \"Authorization: Bearer $PAVED_TOKEN\" \"$PAVED_URL/api/paved/apps/v1/by-entity?entityRef=component:default/hello\"   # what paved's app card shows\n")
	environments := fmt.Sprintf(`{"templateRef":"template:default/paved-service-environments","values":{"name":"web","owner":"group:default/platform","repoUrl":"%s","revision":"main","prodServer":"https://kubernetes.default.svc"}}`,
		s.GitURL("environments"))
	fmt.Fprintf(stdout, "then a service in three environments (template paved-service-environments: Argo CD applications web-dev, web-staging, web-prod at once):\n")
	fmt.Fprintf(stdout, "  "+tasks, environments)
}

func envPath(dir string) string { return filepath.Join(dir, "stack.env") }

// printEnv shows the addresses of stack.env; secrets are only named, never printed.
func printEnv(dir string, stdout io.Writer) error {
	raw, err := os.ReadFile(envPath(dir))
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		key, value, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		value = strings.Trim(value, "'")
		if strings.Contains(key, "TOKEN") || strings.Contains(key, "PASSWORD") {
			value = "(in stack.env)"
		}
		fmt.Fprintf(stdout, "%s=%s\n", key, value)
	}
	fmt.Fprintf(stdout, "source %s  # for the secrets; Argo CD users: admin, paved\n", envPath(dir))
	return nil
}

func status(dir string, stdout io.Writer) error {
	procs, err := stack.Status(dir)
	if err != nil {
		return err
	}
	if len(procs) == 0 {
		fmt.Fprintln(stdout, "stack down")
		return nil
	}
	var total int64
	for _, p := range procs {
		state := "running"
		if !p.Alive {
			state = "DEAD"
		}
		total += p.RSS
		fmt.Fprintf(stdout, "%-30s pid %-8d %-8s %6d MiB\n", p.Name, p.PID, state, p.RSS>>20)
	}
	fmt.Fprintf(stdout, "%-30s %24d MiB\n", "total", total>>20)
	if !allAlive(procs) {
		return errors.New("some components are down; run down then up")
	}
	return printEnv(dir, stdout)
}

func allAlive(procs []stack.ProcStatus) bool {
	for _, p := range procs {
		if !p.Alive {
			return false
		}
	}
	return true
}
