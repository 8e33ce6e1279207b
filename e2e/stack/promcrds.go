package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// PrometheusOperatorVersion is the prometheus-operator module whose
// ServiceMonitor and PrometheusRule CRDs InstallMonitoringCRDs creates, read
// from the module cache like Argo CD's.
const PrometheusOperatorVersion = "v0.85.0"

// InstallMonitoringCRDs creates the Prometheus operator's ServiceMonitor and
// PrometheusRule CRDs in the stack's API server and waits until they serve, so
// that manifests using them can be applied (paved's Helm chart).
func (s *Stack) InstallMonitoringCRDs(ctx context.Context) error {
	dir, err := moduleDir(ctx, "github.com/prometheus-operator/prometheus-operator@"+PrometheusOperatorVersion)
	if err != nil {
		return err
	}
	var files []crdFile
	for _, kind := range []string{"servicemonitors", "prometheusrules"} {
		files = append(files, crdFile{
			path: filepath.Join(dir, "example", "prometheus-operator-crd", "monitoring.coreos.com_"+kind+".yaml"),
			name: kind + ".monitoring.coreos.com",
		})
	}
	return s.createCRDs(ctx, files)
}

// Bins are the commands the stack runs (kubectl, helm, …).
func (s *Stack) Bins() Bins { return s.bins }

// moduleDir downloads a module into the module cache (when missing) and
// returns its directory.
func moduleDir(ctx context.Context, modVersion string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", modVersion)
	// Outside any module: the download must not touch a go.mod or go.sum.
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", modVersion, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), `"Dir": `); ok {
			return strings.Trim(strings.TrimSuffix(v, ","), `"`), nil
		}
	}
	return "", errors.New("go mod download " + modVersion + ": no Dir")
}
