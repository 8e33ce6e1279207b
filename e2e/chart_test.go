//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/paved-dev/paved/argocd/argocdtest"
	"github.com/paved-dev/paved/e2e/pavedproc"
	"github.com/paved-dev/paved/e2e/stack"
)

// TestHelmChart checks deploy/helm/paved the way a platform team meets it:
// helm lint, helm template for a values matrix, every rendered set applied
// with kubectl apply --dry-run=server to the real kube-apiserver (with the
// Prometheus operator's CRDs installed), the Argo CD Application that
// installs the chart accepted by Argo CD's CRD, bad values refused by the
// schema, and — for each set — the image `make image` builds, unpacked and
// run the way the kubelet would run the rendered Deployment: the rendered
// ConfigMaps at their mount paths, the env with the Secret's values, the
// pod's user, paved confined to the image's file system (chroot). There
// `paved config check` passes and `paved serve` answers /healthz, /readyz
// (its Argo CD reachable) and an action call with the static token.
func TestHelmChart(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runs paved inside the image's file system with chroot and the pod's user: needs root (CI runs as root)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	root, err := stack.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	chart := filepath.Join(root, "deploy", "helm", "paved")
	// The API server is what the manifests meet; Argo CD's CRDs are there for
	// the Application. paved's Argo CD is argocdtest, a fake at the network
	// edge speaking Argo CD's gRPC API (the scenarios run the real one).
	st := stack.StartWithForTest(ctx, t, stack.Options{KubeOnly: true}, "kube-apiserver")
	helm := st.Bins().Helm
	argoToken := hex.EncodeToString(randomBytes(t, 24))
	argo, err := argocdtest.NewServer(argocdtest.Options{APITokens: []string{argoToken}})
	if err != nil {
		t.Fatal(err)
	}
	argo.Start()
	t.Cleanup(argo.Close)

	rootfs := imageRootFS(t, ctx, root)

	t.Run("lint", func(t *testing.T) {
		out, err := runCmd(ctx, "", nil, nil, helm, "lint", "--strict", chart)
		if err != nil {
			t.Fatalf("helm lint: %v\n%s", err, out)
		}
	})

	t.Run("bad values", func(t *testing.T) {
		const bySchema = "values don't meet the specifications of the schema"
		for _, c := range []struct {
			values string
			want   []string
		}{
			{"replicaCount: 3\n", []string{bySchema, "database.engine", "postgres"}},
			{"replicas: 3\n", []string{bySchema, "replicas"}},
			{"database: {engine: mysql}\n", []string{bySchema, "database.engine"}},
			{"podSecurityContext: {runAsNonRoot: false}\n", []string{bySchema, "runAsNonRoot"}},
			{"containerPort: 80\n", []string{bySchema, "containerPort", "1024"}},
			{"infraKinds: {\"../x.yaml\": {name: x, driver: manifests}}\n", []string{bySchema, "../x.yaml"}},
			// What the schema cannot word, the chart refuses by name.
			{"replicaCount: 2\ndatabase: {engine: postgres}\n", []string{"database.engine: postgres needs secrets.existingSecret"}},
			{"config: {listen: \"0.0.0.0:80\"}\n", []string{"config.listen is set by the chart"}},
		} {
			file := filepath.Join(t.TempDir(), "bad-values.yaml")
			if err := os.WriteFile(file, []byte(c.values), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := runCmd(ctx, "", nil, nil, helm, "template", "paved", chart, "-f", file)
			if err == nil {
				t.Errorf("values %q: rendered, want a refusal", c.values)
				continue
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("values %q: refusal does not say %q:\n%s", c.values, w, out)
				}
			}
		}
	})

	if err := st.InstallMonitoringCRDs(ctx); err != nil {
		t.Fatal(err)
	}

	t.Run("argocd application", func(t *testing.T) {
		out, err := st.Kubectl("apply", "--dry-run=server", "-f", filepath.Join(root, "deploy", "argocd", "paved-application.yaml"))
		if err != nil || !strings.Contains(out, "application.argoproj.io/paved created (server dry run)") {
			t.Fatalf("the Application that installs the chart: %v\n%s", err, out)
		}
	})

	cases := []struct {
		name, values string
		engine       string
		replicas     int
		kinds        []string // besides ConfigMap, Deployment, Service, ServiceAccount, NetworkPolicy
		infraKinds   []string
	}{
		{"sqlite", "sqlite-values.yaml", "sqlite", 1, []string{"PersistentVolumeClaim"}, []string{"s3-bucket"}},
		{"postgres", "postgres-values.yaml", "postgres", 3, []string{"PodDisruptionBudget"}, nil},
		{"monitoring", "monitoring-values.yaml", "sqlite", 1, []string{"PersistentVolumeClaim", "ServiceMonitor", "PrometheusRule"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ns := "paved-" + c.name
			if _, err := st.Kubectl("create", "namespace", ns); err != nil {
				t.Fatal(err)
			}
			secret := map[string]string{
				"argocd-token": argoToken,
				"infra-key":    base64.StdEncoding.EncodeToString(randomBytes(t, 32)),
				"static-token": hex.EncodeToString(randomBytes(t, 16)),
			}
			if c.engine == "postgres" {
				secret["database-url"] = scenarioDatabase(t)
			}
			args := []string{"create", "secret", "generic", "paved", "-n", ns}
			for k, v := range secret {
				args = append(args, "--from-literal="+k+"="+v)
			}
			if _, err := st.Kubectl(args...); err != nil {
				t.Fatal(err)
			}
			// This test's Argo CD in place of the in-cluster one the values name.
			local := filepath.Join(t.TempDir(), "local-values.yaml")
			localValues := fmt.Sprintf("config:\n  argocd:\n    instances:\n      - {name: e2e, server: %q, plainText: true, token: \"${ARGOCD_TOKEN}\"}\n", argo.Addr())
			if c.name == "monitoring" {
				localValues = "" // no Argo CD: paved starts without an instance
			}
			if err := os.WriteFile(local, []byte(localValues), 0o600); err != nil {
				t.Fatal(err)
			}
			values := filepath.Join(chart, "ci", c.values)
			if out, err := runCmd(ctx, "", nil, nil, helm, "lint", "--strict", chart, "-f", values, "-f", local); err != nil {
				t.Fatalf("helm lint: %v\n%s", err, out)
			}
			rendered, err := runCmd(ctx, "", nil, nil, helm, "template", "paved", chart, "-n", ns, "--kube-version", "v1.31.14", "-f", values, "-f", local)
			if err != nil {
				t.Fatalf("helm template: %v\n%s", err, rendered)
			}
			docs := parseManifests(t, rendered)
			var kinds []string
			for _, d := range docs {
				kinds = append(kinds, d.Kind)
			}
			want := append([]string{"ConfigMap", "ConfigMap", "Deployment", "NetworkPolicy", "Service", "ServiceAccount"}, c.kinds...)
			slices.Sort(kinds)
			slices.Sort(want)
			if !slices.Equal(kinds, want) {
				t.Errorf("rendered kinds %v, want %v", kinds, want)
			}
			out, err := runCmd(ctx, "", strings.NewReader(rendered), nil, st.Bins().Kubectl, "--kubeconfig", st.KubeconfigPath,
				"apply", "--dry-run=server", "-n", ns, "-f", "-")
			if err != nil {
				t.Fatalf("kubectl apply --dry-run=server: %v\n%s", err, out)
			}
			if n := strings.Count(out, "(server dry run)"); n != len(docs) {
				t.Errorf("the API server accepted %d of %d objects:\n%s", n, len(docs), out)
			}

			dep := find(t, docs, "Deployment")
			checkDeployment(t, dep, c.replicas, c.engine)
			runPod(t, ctx, rootfs, docs, dep, secret, c.infraKinds)
		})
	}
}

// imageRootFS builds the image as `make image` does (this platform only) and
// unpacks it as a container runtime would.
func imageRootFS(t *testing.T, ctx context.Context, root string) string {
	t.Helper()
	out := t.TempDir()
	began := time.Now()
	if o, err := runCmd(ctx, filepath.Join(root, "deploy", "image"), nil, []string{"GOWORK=off"}, "go", "run", ".",
		"-root", root, "-out", out, "-platforms", "linux/"+runtime.GOARCH, "-version", "e2e",
		"-revision", "e2e", "-created", "1764720000"); err != nil {
		t.Fatalf("build the image: %v\n%s", err, o)
	}
	t.Logf("E2E image built in %s", time.Since(began).Round(time.Second))
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	if o, err := runCmd(ctx, filepath.Join(root, "deploy", "image"), nil, []string{"GOWORK=off"}, "go", "run", ".", "extract",
		"-layout", filepath.Join(out, "oci"), "-platform", "linux/"+runtime.GOARCH, "-to", rootfs); err != nil {
		t.Fatalf("unpack the image: %v\n%s", err, o)
	}
	// t.TempDir's parent is 0700: the pod's user must be able to reach its root.
	for dir := rootfs; dir != os.TempDir() && dir != "/"; dir = filepath.Dir(dir) {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return rootfs
}

type manifest struct {
	Kind     string                `yaml:"kind"`
	Metadata struct{ Name string } `yaml:"metadata"`
	Data     map[string]string     `yaml:"data"`
	Spec     yaml.Node             `yaml:"spec"`
	raw      map[string]any
}

func parseManifests(t *testing.T, rendered string) []manifest {
	t.Helper()
	var docs []manifest
	dec := yaml.NewDecoder(strings.NewReader(rendered))
	for {
		var node yaml.Node
		if err := dec.Decode(&node); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("rendered YAML: %v", err)
		}
		var m manifest
		if err := node.Decode(&m); err != nil {
			t.Fatal(err)
		}
		if m.Kind == "" {
			continue
		}
		if err := node.Decode(&m.raw); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, m)
	}
	return docs
}

func find(t *testing.T, docs []manifest, kind string) manifest {
	t.Helper()
	for _, d := range docs {
		if d.Kind == kind {
			return d
		}
	}
	t.Fatalf("no %s rendered", kind)
	return manifest{}
}

// deployment is the part of a rendered Deployment the kubelet would use.
type deployment struct {
	Replicas int `yaml:"replicas"`
	Template struct {
		Spec struct {
			SecurityContext struct {
				RunAsNonRoot   bool                  `yaml:"runAsNonRoot"`
				RunAsUser      int                   `yaml:"runAsUser"`
				RunAsGroup     int                   `yaml:"runAsGroup"`
				FSGroup        int                   `yaml:"fsGroup"`
				SeccompProfile struct{ Type string } `yaml:"seccompProfile"`
			} `yaml:"securityContext"`
			TopologySpreadConstraints []map[string]any `yaml:"topologySpreadConstraints"`
			Containers                []container      `yaml:"containers"`
			Volumes                   []struct {
				Name      string
				ConfigMap *struct{ Name string } `yaml:"configMap"`
				EmptyDir  map[string]any         `yaml:"emptyDir"`
				PVC       *struct {
					ClaimName string `yaml:"claimName"`
				} `yaml:"persistentVolumeClaim"`
			} `yaml:"volumes"`
		} `yaml:"spec"`
	} `yaml:"template"`
	Strategy struct{ Type string } `yaml:"strategy"`
}

type container struct {
	Args []string `yaml:"args"`
	Env  []struct {
		Name      string
		Value     string
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name, Key string
				Optional  bool
			} `yaml:"secretKeyRef"`
			ResourceFieldRef *struct{ Resource string } `yaml:"resourceFieldRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Resources struct {
		Limits map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool                   `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   bool                    `yaml:"readOnlyRootFilesystem"`
		Capabilities             struct{ Drop []string } `yaml:"capabilities"`
	} `yaml:"securityContext"`
	LivenessProbe  probe            `yaml:"livenessProbe"`
	ReadinessProbe probe            `yaml:"readinessProbe"`
	StartupProbe   probe            `yaml:"startupProbe"`
	RawMounts      []map[string]any `yaml:"volumeMounts"`
}

type probe struct {
	HTTPGet struct {
		Path string
		Port string
	} `yaml:"httpGet"`
}

func decodeDeployment(t *testing.T, m manifest) deployment {
	t.Helper()
	var d deployment
	if err := m.Spec.Decode(&d); err != nil {
		t.Fatal(err)
	}
	if len(d.Template.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(d.Template.Spec.Containers))
	}
	return d
}

func checkDeployment(t *testing.T, m manifest, replicas int, engine string) {
	t.Helper()
	d := decodeDeployment(t, m)
	c := d.Template.Spec.Containers[0]
	sc := d.Template.Spec.SecurityContext
	if d.Replicas != replicas {
		t.Errorf("replicas %d, want %d", d.Replicas, replicas)
	}
	if !sc.RunAsNonRoot || sc.RunAsUser == 0 || sc.SeccompProfile.Type != "RuntimeDefault" {
		t.Errorf("pod securityContext %+v", sc)
	}
	if c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation ||
		!c.SecurityContext.ReadOnlyRootFilesystem || !slices.Equal(c.SecurityContext.Capabilities.Drop, []string{"ALL"}) {
		t.Errorf("container securityContext %+v", c.SecurityContext)
	}
	if c.LivenessProbe.HTTPGet.Path != "/healthz" || c.StartupProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("probes: liveness %q startup %q readiness %q", c.LivenessProbe.HTTPGet.Path, c.StartupProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path)
	}
	if len(d.Template.Spec.TopologySpreadConstraints) == 0 {
		t.Error("no topology spread constraints")
	}
	wantStrategy := map[string]string{"sqlite": "Recreate", "postgres": "RollingUpdate"}[engine]
	if d.Strategy.Type != wantStrategy {
		t.Errorf("strategy %q, want %q for %s", d.Strategy.Type, wantStrategy, engine)
	}
}

// runPod runs the image's paved as the kubelet would run the rendered
// Deployment's container: its ConfigMaps at their mount paths, empty
// directories for emptyDir and the volume claim, its env resolved against the
// Secret, its user and group, its args — confined to the image's file system.
// The one difference: paved listens on a free loopback port of this host (the
// pod's network would be its own).
func runPod(t *testing.T, ctx context.Context, rootfs string, docs []manifest, m manifest, secret map[string]string, wantKinds []string) {
	t.Helper()
	d := decodeDeployment(t, m)
	c := d.Template.Spec.Containers[0]
	uid, gid := d.Template.Spec.SecurityContext.RunAsUser, d.Template.Spec.SecurityContext.RunAsGroup
	configMaps := map[string]map[string]string{}
	for _, doc := range docs {
		if doc.Kind == "ConfigMap" {
			configMaps[doc.Metadata.Name] = doc.Data
		}
	}
	for _, vm := range c.RawMounts {
		name, _ := vm["name"].(string)
		mountPath, _ := vm["mountPath"].(string)
		subPath, _ := vm["subPath"].(string)
		target := filepath.Join(rootfs, mountPath)
		if err := os.RemoveAll(target); err != nil {
			t.Fatal(err)
		}
		for _, v := range d.Template.Spec.Volumes {
			if v.Name != name {
				continue
			}
			switch {
			case v.ConfigMap != nil:
				data, ok := configMaps[v.ConfigMap.Name]
				if !ok {
					t.Fatalf("volume %s: ConfigMap %s is not rendered", name, v.ConfigMap.Name)
				}
				if subPath != "" {
					writeFile(t, target, data[subPath], 0o755)
					continue
				}
				if err := os.MkdirAll(target, 0o755); err != nil {
					t.Fatal(err)
				}
				for k, body := range data {
					writeFile(t, filepath.Join(target, k), body, 0o755)
				}
			case v.EmptyDir != nil || v.PVC != nil:
				if err := os.MkdirAll(target, 0o770); err != nil {
					t.Fatal(err)
				}
				if err := os.Chown(target, uid, d.Template.Spec.SecurityContext.FSGroup); err != nil {
					t.Fatal(err)
				}
			default:
				t.Fatalf("volume %s: a kind this test does not mount", name)
			}
		}
	}

	addr, err := pavedproc.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	// The image's env first, then the container's, as a container runtime does.
	env := []string{"PATH=/usr/local/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt", "HOME=/home/paved",
		"PAVED_LISTEN=0.0.0.0:7010", "PAVED_DATA_DIR=/var/lib/paved"}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env = append(env, e.Name+"="+e.Value)
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			v, ok := secret[ref.Key]
			if secret == nil || ref.Name != "paved" || !ok {
				if !ref.Optional {
					t.Fatalf("env %s: secret %s has no key %s and it is not optional: the pod would not start", e.Name, ref.Name, ref.Key)
				}
				continue
			}
			env = append(env, e.Name+"="+v)
		case e.ValueFrom.ResourceFieldRef != nil:
			env = append(env, e.Name+"="+strconv.FormatInt(quantity(t, c.Resources.Limits["memory"]), 10))
		}
	}
	env = append(env, "PAVED_LISTEN="+addr)

	pod := func(args ...string) *exec.Cmd {
		cmd := &exec.Cmd{Path: "/usr/local/bin/paved", Args: append([]string{"paved"}, args...), Env: env, Dir: "/"}
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Chroot:     rootfs,
			Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{uint32(d.Template.Spec.SecurityContext.FSGroup)}},
			Setpgid:    true,
			Pdeathsig:  syscall.SIGKILL,
		}
		return cmd
	}
	check := pod("config", "check")
	out, err := check.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "configuration is valid") {
		t.Fatalf("paved config check with the chart's config: %v\n%s", err, out)
	}
	t.Logf("paved config check: %s", strings.TrimSpace(string(out)))

	serve := pod(c.Args...)
	var log bytes.Buffer
	serve.Stdout, serve.Stderr = &log, &log
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		_ = serve.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- serve.Wait() }()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			_ = serve.Process.Kill()
			return fmt.Errorf("still running 30 s after SIGTERM (terminationGracePeriodSeconds)")
		}
	}
	defer func() {
		_ = stop()
		if t.Failed() {
			t.Logf("--- paved's log:\n%s", log.String())
		}
	}()
	base := "http://" + addr
	eventually(t, time.Minute, "/healthz answers 200", func() (bool, string) {
		code, body := httpGet(ctx, base+"/healthz", "")
		return code == http.StatusOK, fmt.Sprintf("%d %s", code, body)
	})
	eventually(t, time.Minute, "/readyz answers 200", func() (bool, string) {
		code, body := httpGet(ctx, base+"/readyz", "")
		return code == http.StatusOK && strings.Contains(body, `"status":"ok"`), fmt.Sprintf("%d %s", code, body)
	})
	if token := secret["static-token"]; token != "" {
		// The static token from the Secret authenticates; the infra kinds
		// from the ConfigMap are served.
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/paved/.backstage/actions/v1/actions/paved%3Alist-infra-kinds/invoke", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("list-infra-kinds with the static token: %d %s", resp.StatusCode, body)
		}
		for _, k := range wantKinds {
			if !strings.Contains(string(body), `"name":"`+k+`"`) {
				t.Errorf("list-infra-kinds does not list %s from the chart's ConfigMap: %s", k, body)
			}
		}
		code, metrics := httpGet(ctx, base+"/metrics", "")
		if code != http.StatusOK || !strings.Contains(metrics, `devex_action_invocations_total{`) {
			t.Errorf("/metrics after an action call: %d, no devex_action_invocations_total", code)
		}
	}
	for _, doc := range docs {
		if doc.Kind != "PrometheusRule" {
			continue
		}
		// Every metric the alerts read is one paved exports.
		code, metrics := httpGet(ctx, base+"/metrics", "")
		if code != http.StatusOK {
			t.Fatalf("/metrics: %d", code)
		}
		raw, _ := yaml.Marshal(doc.raw)
		for _, name := range regexp.MustCompile(`\b(devex|paved|http)_[a-z_]+`).FindAllString(string(raw), -1) {
			switch name {
			case "devex_template_run_stuck", "devex_template_run_completed_total":
				// Observed once the collector has read Backstage's tasks; this test has no Backstage.
				continue
			case "devex_app_time_to_healthy_seconds_bucket", "devex_app_time_to_healthy_seconds_count":
				// Recorded once an app paved created turns healthy; this test has no Argo CD app.
				continue
			}
			if !strings.Contains(metrics, "# TYPE "+strings.TrimSuffix(name, "_total")) {
				t.Errorf("PrometheusRule reads %s, which paved's /metrics does not export", name)
			}
		}
	}
	if err := stop(); err != nil {
		t.Errorf("paved after SIGTERM: %v", err)
	}
}

func writeFile(t *testing.T, path, body string, dirMode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// quantity reads the Kubernetes quantities the chart's defaults use (512Mi).
func quantity(t *testing.T, q string) int64 {
	t.Helper()
	for suffix, mult := range map[string]int64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30} {
		if n, ok := strings.CutSuffix(q, suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			if err != nil {
				t.Fatalf("quantity %q: %v", q, err)
			}
			return v * mult
		}
	}
	v, err := strconv.ParseInt(q, 10, 64)
	if err != nil {
		t.Fatalf("quantity %q: %v", q, err)
	}
	return v
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func httpGet(ctx context.Context, url, token string) (int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err.Error()
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func runCmd(ctx context.Context, dir string, stdin io.Reader, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Stdin = dir, stdin
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}
