package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The user paved runs as: distroless's "nonroot", so that volumes prepared for
// other distroless images (fsGroup 65532) fit too.
const (
	UID        = 65532
	BinaryPath = "/usr/local/bin/paved"
	DataDir    = "/var/lib/paved"
	Port       = 7010
	CACertPath = "/etc/ssl/certs/ca-certificates.crt"
)

// Options says what to build. Every field that ends up in the image is an
// input, never the clock or the machine, so one commit gives one digest.
type Options struct {
	Root      string   // the paved repository (holds go.mod and cmd/paved)
	Platforms []string // os/arch, e.g. linux/amd64
	Version   string
	Revision  string    // the git commit
	Source    string    // the repository's URL
	Created   time.Time // the commit's time (SOURCE_DATE_EPOCH)
	CACerts   string    // PEM bundle copied to /etc/ssl/certs/ca-certificates.crt
	Out       string    // output directory
	Logf      func(string, ...any)
}

// Result is what Build wrote.
type Result struct {
	Index      v1.ImageIndex
	Digest     v1.Hash            // of the multi-platform index
	Images     map[string]v1.Hash // platform → image manifest digest
	LayoutDir  string             // OCI image layout (crane push DIR, skopeo oci:DIR:<version>)
	OCIArchive string             // the layout as one tar (skopeo oci-archive:FILE)
	Tarballs   map[string]string  // platform → docker-style tarball (docker load, crane push FILE)
}

// Build compiles paved for every platform and assembles the OCI image.
func Build(ctx context.Context, o Options) (*Result, error) {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if len(o.Platforms) == 0 {
		return nil, fmt.Errorf("no platform to build")
	}
	certs, err := os.ReadFile(o.CACerts)
	if err != nil {
		return nil, fmt.Errorf("CA certificates: %w", err)
	}
	if !bytes.Contains(certs, []byte("BEGIN CERTIFICATE")) {
		return nil, fmt.Errorf("CA certificates: %s holds no PEM certificate", o.CACerts)
	}
	created := o.Created.UTC().Truncate(time.Second)
	base, err := layerOf(baseFiles(certs), created)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "paved-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	res := &Result{Images: map[string]v1.Hash{}, Tarballs: map[string]string{}}
	var adds []mutate.IndexAddendum
	images := map[string]v1.Image{}
	for _, platform := range o.Platforms {
		p, err := v1.ParsePlatform(platform)
		if err != nil || p.OS != "linux" || p.Architecture == "" {
			return nil, fmt.Errorf("platform %q: want linux/<arch>", platform)
		}
		bin := filepath.Join(work, "paved-"+p.Architecture)
		if err := compile(ctx, o, p, bin); err != nil {
			return nil, err
		}
		exe, err := os.ReadFile(bin)
		if err != nil {
			return nil, err
		}
		app, err := layerOf([]file{
			{name: "usr/", mode: 0o755 | tarDir},
			{name: "usr/local/", mode: 0o755 | tarDir},
			{name: "usr/local/bin/", mode: 0o755 | tarDir},
			{name: strings.TrimPrefix(BinaryPath, "/"), mode: 0o755, body: exe},
		}, created)
		if err != nil {
			return nil, err
		}
		img, err := image(o, p, created, base, app)
		if err != nil {
			return nil, err
		}
		d, err := img.Digest()
		if err != nil {
			return nil, err
		}
		o.Logf("%s: %s (binary %d MB)", platform, d, len(exe)>>20)
		res.Images[platform] = d
		images[platform] = img
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: p}})
	}
	idx := mutate.IndexMediaType(mutate.AppendManifests(empty.Index, adds...), types.OCIImageIndex)
	idx = mutate.Annotations(idx, annotations(o, created)).(v1.ImageIndex)
	if res.Digest, err = idx.Digest(); err != nil {
		return nil, err
	}
	res.Index = idx

	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	res.LayoutDir = filepath.Join(o.Out, "oci")
	if err := os.RemoveAll(res.LayoutDir); err != nil {
		return nil, err
	}
	lp, err := layout.Write(res.LayoutDir, empty.Index)
	if err != nil {
		return nil, err
	}
	// One entry, the multi-platform index, named by the version: what
	// `crane push DIR REF --index` and `skopeo copy --all oci:DIR:VERSION` take.
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": o.Version,
	})); err != nil {
		return nil, err
	}
	res.OCIArchive = filepath.Join(o.Out, "paved.oci.tar")
	if err := archiveDir(res.LayoutDir, res.OCIArchive, created); err != nil {
		return nil, err
	}
	tag, err := name.NewTag("paved:"+o.Version, name.WeakValidation)
	if err != nil {
		return nil, fmt.Errorf("version %q is not a valid image tag: %w", o.Version, err)
	}
	for platform, img := range images {
		file := filepath.Join(o.Out, "paved-"+strings.ReplaceAll(platform, "/", "-")+".tar")
		if err := tarball.WriteToFile(file, tag, img); err != nil {
			return nil, err
		}
		res.Tarballs[platform] = file
	}
	if err := os.WriteFile(filepath.Join(o.Out, "digest"), []byte(res.Digest.String()+"\n"), 0o644); err != nil {
		return nil, err
	}
	return res, nil
}

// tarDir marks a file entry as a directory.
const tarDir = 1 << 31

type file struct {
	name     string // relative, directories end in /
	mode     int64  // permission bits, | tarDir for a directory
	uid      int
	body     []byte
	linkname string
}

// baseFiles are what every paved image holds besides the binary: CA
// certificates, the user and group paved runs as, its home, a /tmp and the data
// directory it owns.
func baseFiles(certs []byte) []file {
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\npaved:x:%d:%d:paved:/home/paved:/sbin/nologin\n", UID, UID)
	group := fmt.Sprintf("root:x:0:\npaved:x:%d:\n", UID)
	return []file{
		{name: "etc/", mode: 0o755 | tarDir},
		{name: "etc/group", mode: 0o644, body: []byte(group)},
		{name: "etc/nsswitch.conf", mode: 0o644, body: []byte("hosts: files dns\n")},
		{name: "etc/passwd", mode: 0o644, body: []byte(passwd)},
		{name: "etc/ssl/", mode: 0o755 | tarDir},
		{name: "etc/ssl/certs/", mode: 0o755 | tarDir},
		{name: strings.TrimPrefix(CACertPath, "/"), mode: 0o644, body: certs},
		{name: "home/", mode: 0o755 | tarDir},
		{name: "home/paved/", mode: 0o700 | tarDir, uid: UID},
		{name: "tmp/", mode: 0o1777 | tarDir},
		{name: "var/", mode: 0o755 | tarDir},
		{name: "var/lib/", mode: 0o755 | tarDir},
		{name: strings.TrimPrefix(DataDir, "/") + "/", mode: 0o750 | tarDir, uid: UID},
	}
}

// layerOf writes files as a gzipped tar in name order with one timestamp and
// no host metadata, so the same files give the same bytes.
func layerOf(files []file, mtime time.Time) (v1.Layer, error) {
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	for _, f := range files {
		h := &tar.Header{
			Name: f.name, Mode: f.mode &^ tarDir, Uid: f.uid, Gid: f.uid, ModTime: mtime,
			Format: tar.FormatPAX,
		}
		if f.uid == UID {
			h.Uname, h.Gname = "paved", "paved"
		} else {
			h.Uname, h.Gname = "root", "root"
		}
		switch {
		case f.mode&tarDir != 0:
			h.Typeflag = tar.TypeDir
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	b := gz.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// compile builds a static paved for p: no cgo, trimmed paths, the version
// stamped in. The Go toolchain's builds are reproducible with these flags.
func compile(ctx context.Context, o Options, p *v1.Platform, out string) error {
	o.Logf("compiling paved %s for %s/%s", o.Version, p.OS, p.Architecture)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -buildid= -X github.com/paved-dev/paved.Version="+o.Version,
		"-o", out, "./cmd/paved")
	cmd.Dir = o.Root
	env := append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture, "GOWORK=off")
	if p.Variant != "" && p.Architecture == "arm" {
		env = append(env, "GOARM="+strings.TrimPrefix(p.Variant, "v"))
	}
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build for %s/%s: %w\n%s", p.OS, p.Architecture, err, out)
	}
	return nil
}

func image(o Options, p *v1.Platform, created time.Time, layers ...v1.Layer) (v1.Image, error) {
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	history := []string{"CA certificates, user paved (65532), /tmp, " + DataDir, "paved " + o.Version}
	for i, l := range layers {
		var err error
		img, err = mutate.Append(img, mutate.Addendum{Layer: l, MediaType: types.OCILayer,
			History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "paved image builder (deploy/image)", Comment: history[i]}})
		if err != nil {
			return nil, err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = v1.Time{Time: created}
	cf.Author = "paved"
	cf.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", UID, UID),
		Entrypoint: []string{BinaryPath},
		Cmd:        []string{"serve"},
		WorkingDir: DataDir,
		Env: []string{
			"PATH=/usr/local/bin",
			"SSL_CERT_FILE=" + CACertPath,
			"HOME=/home/paved",
			// In a container the default 127.0.0.1 would be unreachable.
			fmt.Sprintf("PAVED_LISTEN=0.0.0.0:%d", Port),
			"PAVED_DATA_DIR=" + DataDir,
		},
		ExposedPorts: map[string]struct{}{fmt.Sprintf("%d/tcp", Port): {}},
		Volumes:      map[string]struct{}{DataDir: {}},
		Labels:       annotations(o, created),
		StopSignal:   "SIGTERM",
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, annotations(o, created)).(v1.Image), nil
}

// annotations are the OCI pre-defined annotation keys, used as config labels
// and as manifest and index annotations.
func annotations(o Options, created time.Time) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "paved",
		"org.opencontainers.image.description": "The Go service behind Backstage golden paths: Argo CD applications, infrastructure, catalog and adoption metrics",
		"org.opencontainers.image.source":      o.Source,
		"org.opencontainers.image.revision":    o.Revision,
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.created":     created.Format(time.RFC3339),
	}
}

// archiveDir writes dir as one tar (an OCI archive), in name order with one
// timestamp.
func archiveDir(dir, out string, mtime time.Time) error {
	var names []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir {
			names = append(names, path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(names)
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	tw := tar.NewWriter(f)
	for _, path := range names {
		rel, _ := filepath.Rel(dir, path)
		st, err := os.Stat(path)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: mtime, Mode: 0o644, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if st.IsDir() {
			h.Name, h.Mode, h.Typeflag = h.Name+"/", 0o755, tar.TypeDir
		} else {
			h.Size = st.Size()
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !st.IsDir() {
			body, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if _, err := tw.Write(body); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}
