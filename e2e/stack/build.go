package stack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Bins are the paths of the commands the stack runs, built by Build.
type Bins struct {
	KubeAPIServer         string
	KubeControllerManager string
	Kubectl               string
	// ArgoCD is one binary that becomes argocd-server, argocd-repo-server or
	// argocd-application-controller according to ARGOCD_BINARY_NAME.
	ArgoCD string
	// ArgoCD3 is the same for Argo CD 3 (built only when asked for).
	ArgoCD3   string
	Helm      string
	Kustomize string
	// Gitea is the forge of GitOps review mode (built only when asked for);
	// its options/, templates/ and public/ are beside it.
	Gitea string
}

// tool is one Go module under e2e/tools and the commands built from it. Each
// is its own module so that neither its dependencies nor its replace
// directives reach paved's module (nor each other: Argo CD and
// kube-apiserver in one module make kube-apiserver panic at start).
type tool struct {
	name    string // directory under e2e/tools, and the cache directory's prefix
	module  string // the required module whose version keys the cache
	pkgs    map[string]string
	ldflags func(version string) string
	// argo is the Argo CD line this tool builds ("v2", "v3"), empty for the others.
	argo string
	// onDemand tools are built only when BuildOptions asks for them.
	onDemand bool
	// cgo builds with cgo (Gitea's SQLite driver); tags are Go build tags.
	cgo  bool
	tags string
	// assets are directories of the module copied beside the binaries: what
	// the command reads at run time from its source tree.
	assets []string
}

var tools = []tool{
	{
		name:   "kube",
		module: "k8s.io/kubernetes",
		pkgs: map[string]string{
			"kube-apiserver":          "k8s.io/kubernetes/cmd/kube-apiserver",
			"kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
			"kubectl":                 "k8s.io/kubernetes/cmd/kubectl",
		},
		ldflags: func(v string) string {
			major, minor := kubeMajorMinor(v)
			return "-X k8s.io/component-base/version.gitVersion=" + v +
				" -X k8s.io/component-base/version.gitMajor=" + major +
				" -X k8s.io/component-base/version.gitMinor=" + minor
		},
	},
	{
		name:   "argocd",
		argo:   "v2",
		module: "github.com/argoproj/argo-cd/v2",
		pkgs:   map[string]string{"argocd": "github.com/argoproj/argo-cd/v2/cmd"},
		ldflags: func(v string) string {
			return "-X github.com/argoproj/argo-cd/v2/common.version=" + strings.TrimPrefix(v, "v")
		},
	},
	{
		name:   "argocd3",
		module: "github.com/argoproj/argo-cd/v3",
		pkgs:   map[string]string{"argocd3": "github.com/argoproj/argo-cd/v3/cmd"},
		argo:   "v3",
		ldflags: func(v string) string {
			return "-X github.com/argoproj/argo-cd/v3/common.version=" + strings.TrimPrefix(v, "v")
		},
	},
	{
		name:    "helm",
		module:  "helm.sh/helm/v3",
		pkgs:    map[string]string{"helm": "helm.sh/helm/v3/cmd/helm"},
		ldflags: func(v string) string { return "-X helm.sh/helm/v3/internal/version.version=" + v },
	},
	{
		name:   "kustomize",
		module: "sigs.k8s.io/kustomize/kustomize/v5",
		pkgs:   map[string]string{"kustomize": "sigs.k8s.io/kustomize/kustomize/v5"},
		// Argo CD's repo-server reads "kustomize version" to pick flags.
		ldflags: func(v string) string { return "-X sigs.k8s.io/kustomize/api/provenance.version=kustomize/" + v },
	},
	{
		// Gitea (SQLite, on loopback) is the real forge of GitOps review mode:
		// paved opens pull requests on it and Argo CD syncs from its git.
		name:     "gitea",
		module:   "code.gitea.io/gitea",
		pkgs:     map[string]string{"gitea": "code.gitea.io/gitea"},
		onDemand: true,
		cgo:      true,
		tags:     "sqlite sqlite_unlock_notify",
		// Without the bindata tag Gitea reads its locales, templates and
		// static files from STATIC_ROOT_PATH: the binary's directory.
		assets:  []string{"options", "templates", "public"},
		ldflags: func(v string) string { return "-X main.Version=" + strings.TrimPrefix(v, "v") },
	},
}

func kubeMajorMinor(v string) (string, string) {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 {
		return "", ""
	}
	return parts[0], parts[1]
}

// BuildOptions configures Build.
type BuildOptions struct {
	// Root is the repository's root; empty means the one holding the working directory.
	Root string
	Logf func(format string, args ...any)
	// ArgoCD is the Argo CD line to build: "v2" (default), "v3" or "both"
	// (each a cold build of several minutes).
	ArgoCD string
	// Only names the tools to build (e.g. kube, helm); empty means all but
	// the on-demand ones.
	Only []string
	// Gitea builds Gitea too (an on-demand tool: minutes, with cgo).
	Gitea bool
}

// Build builds the stack's commands from the tools modules under e2e/tools into
// e2e/.cache/bin/<tool>-<version>/ (or $PAVED_E2E_BIN_CACHE/<tool>-<version>/)
// and returns their paths. A tool whose
// directory is already there is not built again, so only the first run pays
// for the builds (several minutes on two cores).
func Build(ctx context.Context, opts BuildOptions) (Bins, error) {
	root, err := repoRoot(opts.Root)
	if err != nil {
		return Bins{}, err
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	paths := map[string]string{}
	for _, t := range tools {
		line := opts.ArgoCD
		if line == "" {
			line = "v2"
		}
		if t.argo != "" && line != "both" && t.argo != line || len(opts.Only) > 0 && !slices.Contains(opts.Only, t.name) {
			continue
		}
		if t.onDemand && !(t.name == "gitea" && opts.Gitea) && !slices.Contains(opts.Only, t.name) {
			continue
		}
		dir, err := t.ensure(ctx, root, logf)
		if err != nil {
			return Bins{}, err
		}
		for bin := range t.pkgs {
			paths[bin] = filepath.Join(dir, bin)
		}
	}
	return Bins{
		KubeAPIServer:         paths["kube-apiserver"],
		KubeControllerManager: paths["kube-controller-manager"],
		Kubectl:               paths["kubectl"],
		ArgoCD:                paths["argocd"],
		ArgoCD3:               paths["argocd3"],
		Helm:                  paths["helm"],
		Kustomize:             paths["kustomize"],
		Gitea:                 paths["gitea"],
	}, nil
}

func (t tool) ensure(ctx context.Context, root string, logf func(string, ...any)) (string, error) {
	modDir := filepath.Join(root, "e2e", "tools", t.name)
	version, err := requiredVersion(filepath.Join(modDir, "go.mod"), t.module)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(binCache(root), t.name+"-"+version)
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	// Built aside and renamed, so that an interrupted build never looks complete.
	tmp := fmt.Sprintf("%s.tmp-%d", dir, os.Getpid())
	defer os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", err
	}
	logf("building %s %s (first run only; takes minutes)", t.name, version)
	began := time.Now()
	env := append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-buildvcs=false -mod=readonly")
	if t.cgo {
		env = append(env, "CGO_ENABLED=1")
	}
	for bin, pkg := range t.pkgs {
		args := []string{"build", "-trimpath", "-ldflags", "-s -w " + t.ldflags(version), "-o", filepath.Join(tmp, bin)}
		if t.tags != "" {
			args = append(args, "-tags", t.tags)
		}
		cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
		cmd.Dir = modDir
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("build %s: %w\n%s", pkg, err, out)
		}
	}
	if len(t.assets) > 0 {
		if err := copyAssets(ctx, modDir, env, t.module, t.assets, tmp); err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(dir); statErr != nil {
			return "", err
		}
		// Another process finished the same build first.
	}
	logf("built %s %s in %s", t.name, version, time.Since(began).Round(time.Second))
	return dir, nil
}

// copyAssets copies directories of module's source (from the module cache)
// into dst (writable copies: CopyFS does not keep the cache's read-only modes).
func copyAssets(ctx context.Context, modDir string, env []string, module string, dirs []string, dst string) error {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", module)
	cmd.Dir = modDir
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("go list -m %s: %w", module, err)
	}
	src := strings.TrimSpace(string(out))
	for _, d := range dirs {
		if err := os.CopyFS(filepath.Join(dst, d), os.DirFS(filepath.Join(src, d))); err != nil {
			return fmt.Errorf("copy %s of %s: %w", d, module, err)
		}
	}
	return nil
}

// BinCacheEnv names a directory that replaces e2e/.cache/bin, so that fresh
// clones on one machine (CI) share the built binaries.
const BinCacheEnv = "PAVED_E2E_BIN_CACHE"

func binCache(root string) string {
	if dir := os.Getenv(BinCacheEnv); dir != "" {
		if abs, err := filepath.Abs(dir); err == nil {
			return abs
		}
	}
	return filepath.Join(root, "e2e", ".cache", "bin")
}

// requiredVersion reads the version of module from the require lines of a go.mod.
func requiredVersion(gomod, module string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require"))
		if len(fields) >= 2 && fields[0] == module {
			return fields[1], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s does not require %s", gomod, module)
}

// FindRoot returns the repository's root: the nearest directory holding
// e2e/tools above the working directory.
func FindRoot() (string, error) { return repoRoot("") }

// repoRoot returns root, or the nearest directory holding e2e/tools above the
// working directory (tests run in their package's directory, commands in the root).
func repoRoot(root string) (string, error) {
	if root != "" {
		return filepath.Abs(root)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "e2e", "tools", "kube", "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no e2e/tools above the working directory: set Root")
		}
		dir = parent
	}
}
