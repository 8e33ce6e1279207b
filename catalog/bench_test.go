package catalog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/catalog"
)

// benchApps returns n applications shaped like a real Argo CD's: labels,
// annotations, a sync history, spread over projects and two instances.
func benchApps(n int) []catalog.InstanceApps {
	out := []catalog.InstanceApps{{Instance: "prod"}, {Instance: "staging"}}
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range n {
		inst := i % 2
		name := fmt.Sprintf("service-%05d", i)
		a := paved.App{
			AppRef:       paved.AppRef{Instance: out[inst].Instance, Name: name, Project: fmt.Sprintf("project-%02d", i%20)},
			URL:          "https://argocd.example.com/applications/" + name,
			SyncStatus:   []string{"Synced", "OutOfSync"}[i%2],
			HealthStatus: []string{"Healthy", "Progressing", "Degraded"}[i%3],
			Revision:     "0123456789abcdef0123456789abcdef01234567",
			Labels: map[string]string{
				paved.LabelManagedBy:  paved.ManagedByPaved,
				paved.LabelEntity:     "component.default." + name,
				"paved.dev/owner":     fmt.Sprintf("team-%03d", i%150),
				"paved.dev/lifecycle": "production",
				"tier":                "backend",
			},
			Annotations: map[string]string{
				paved.AnnotationTemplate:  "template:default/go-service",
				paved.AnnotationEntityRef: "component:default/" + name,
				paved.AnnotationUserRef:   "user:default/jane.doe",
				paved.AnnotationCreatedAt: created.Format(time.RFC3339),
			},
			Destination: paved.AppDestination{Server: "https://kubernetes.default.svc", Namespace: name},
			RepoURL:     "https://github.com/example/deploy.git",
			CreatedAt:   created,
		}
		for h := range 5 {
			a.History = append(a.History, paved.Deployment{ID: int64(h), Revision: a.Revision, DeployedAt: created.Add(time.Duration(h) * time.Hour)})
		}
		out[inst].Apps = append(out[inst].Apps, a)
	}
	return out
}

func benchOptions() catalog.Options {
	return catalog.Options{
		Instances:   []catalog.Instance{{Name: "prod"}, {Name: "staging"}},
		LocationURL: "https://paved.example.com/api/paved/catalog/entities.yaml",
	}
}

// fullSnapshot is the work of one refresh, minus listing Argo CD: build the
// entities, seal the snapshot (ETag), and serve the full JSON body once
// (to a counter standing in for the socket); it returns the body's size.
func fullSnapshot(apps []catalog.InstanceApps) (*catalog.Snapshot, int) {
	b := catalog.Build(benchOptions(), apps, nil, nil)
	s := catalog.NewSnapshot(catalog.State{Epoch: "e", Seq: 1}, b.Items)
	page, next, _ := s.Page("", 0)
	var n counter
	if err := s.WritePage(&n, page, next); err != nil {
		panic(err)
	}
	return s, int(n)
}

type counter int

func (c *counter) Write(p []byte) (int, error) { *c += counter(len(p)); return len(p), nil }

// BenchmarkSnapshot10k measures a full snapshot of 10,000 applications and,
// for scale, plain encoding/json decoding and encoding the same applications.
// Targets: ≤ 250 ms and ≤ 150 MB per snapshot, ≤ 2× the plain JSON round trip.
func BenchmarkSnapshot10k(b *testing.B) {
	apps := benchApps(10_000)
	raw, err := json.Marshal(apps)
	if err != nil {
		b.Fatal(err)
	}
	jsonRoundTrip := func() []byte {
		var decoded []catalog.InstanceApps
		if err := json.Unmarshal(raw, &decoded); err != nil {
			b.Fatal(err)
		}
		out, err := json.Marshal(decoded)
		if err != nil {
			b.Fatal(err)
		}
		return out
	}
	// The baseline, timed once outside b.N so the ratio can be printed.
	base, baseCPU := timeIt(5, func() { jsonRoundTrip() })

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	var body int
	var snap *catalog.Snapshot
	for b.Loop() {
		snap, body = fullSnapshot(apps)
	}
	b.StopTimer()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	ours, oursCPU := timeIt(5, func() { fullSnapshot(apps) })
	allocMB := float64(after.TotalAlloc-before.TotalAlloc) / float64(max(1, b.N)) / (1 << 20)
	b.ReportMetric(float64(ours.Microseconds())/1000, "ms/snapshot")
	b.ReportMetric(float64(oursCPU.Microseconds())/1000, "ms-cpu/snapshot")
	b.ReportMetric(allocMB, "MB-alloc/snapshot")
	b.ReportMetric(float64(ours)/float64(base), "x-json-roundtrip")
	if rss, err := childPeakRSS(); err == nil {
		b.ReportMetric(rss, "MB-peak-RSS")
	} else {
		b.Logf("peak RSS not measured: %v", err)
	}
	b.Logf("10,000 apps: snapshot %v (CPU %v; %d entities, %.1f MB JSON body, %.1f MB allocated); encoding/json decode+encode of the same apps (%.1f MB) %v (CPU %v); ratio %.2f× (CPU %.2f×)",
		ours, oursCPU, snap.Len(), float64(body)/(1<<20), allocMB, float64(len(raw))/(1<<20), base, baseCPU,
		float64(ours)/float64(base), float64(oursCPU)/float64(baseCPU))
}

// timeIt returns the best of n runs of f, a steadier figure than the mean
// on a shared machine, and the process CPU time of that run (on a busy
// machine wall time mostly measures the other processes).
func timeIt(n int, f func()) (wall, cpu time.Duration) {
	wall = time.Duration(1<<63 - 1)
	for range n {
		c0 := cpuTime()
		start := time.Now()
		f()
		if d := time.Since(start); d < wall {
			wall, cpu = d, cpuTime()-c0
		}
	}
	return wall, cpu
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSSMB is the process's peak resident memory (VmHWM), Linux only.
func peakRSSMB() float64 { return procStatusMB("VmHWM:") }

// procStatusMB reads a memory figure of /proc/self/status, in MB.
func procStatusMB(field string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// changed returns apps with the first n changed (health flipped).
func changed(apps []catalog.InstanceApps, n int) []catalog.InstanceApps {
	out := make([]catalog.InstanceApps, len(apps))
	for i, ia := range apps {
		out[i] = catalog.InstanceApps{Instance: ia.Instance, Apps: append([]paved.App(nil), ia.Apps...)}
	}
	for i := range n {
		a := &out[i%2].Apps[i/2]
		a.HealthStatus = "Suspended"
	}
	return out
}

// BenchmarkDelta measures what a refresh with n changes among 10,000 apps
// costs beyond building: the diff, writing the changes to the store
// (SQLite), and serving them on the changes endpoint. The store and feed
// parts grow with n, not with the catalog.
func BenchmarkDelta(b *testing.B) {
	apps := benchApps(10_000)
	old, _ := fullSnapshot(apps)
	for _, n := range []int{10, 100, 1000} {
		next, _ := fullSnapshot(changed(apps, n))
		b.Run(fmt.Sprintf("diff/changes=%d", n), func(b *testing.B) {
			for b.Loop() {
				if d := catalog.Diff(old, next); len(d) != n {
					b.Fatalf("diff has %d changes, want %d", len(d), n)
				}
			}
		})
		b.Run(fmt.Sprintf("store+feed/changes=%d", n), func(b *testing.B) {
			store := openStore(b, filepath.Join(b.TempDir(), "paved.db"))
			ctx := context.Background()
			all := catalog.Diff(nil, old)
			st, err := store.ApplyCatalogChanges(ctx, catalog.State{}, all)
			if err != nil {
				b.Fatal(err)
			}
			r := catalog.NewRefresher(catalog.RefresherOptions{Store: store})
			forward, back := catalog.Diff(old, next), catalog.Diff(next, old)
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				d := forward
				if i%2 == 1 {
					d = back
				}
				cursor := st.Cursor()
				if st, err = store.ApplyCatalogChanges(ctx, st, d); err != nil {
					b.Fatal(err)
				}
				cs, err := r.Changes(ctx, cursor, 0)
				if err != nil || len(cs.Updated) != n {
					b.Fatalf("changes = %d updated, %v; want %d", len(cs.Updated), err, n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(n), "µs/change")
		})
	}
}

// childPeakRSS runs TestSnapshotRSSChild in a fresh process, which builds one
// snapshot of 10,000 applications and serves its body, and returns that
// process's peak resident memory: what paved needs for the catalog, without
// this benchmark's own data.
func childPeakRSS() (float64, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestSnapshotRSSChild$", "-test.v")
	cmd.Env = append(os.Environ(), "PAVED_CATALOG_RSS_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, out)
	}
	_, after, ok := strings.Cut(string(out), "peak-rss-mb=")
	if !ok {
		return 0, fmt.Errorf("no figure in %s", out)
	}
	f, _, _ := strings.Cut(after, "\n")
	return strconv.ParseFloat(strings.TrimSpace(f), 64)
}

func TestSnapshotRSSChild(t *testing.T) {
	if os.Getenv("PAVED_CATALOG_RSS_CHILD") != "1" {
		t.Skip("run by BenchmarkSnapshot10k in its own process")
	}
	fmt.Printf("start-rss-mb=%.1f\n", procStatusMB("VmRSS:"))
	apps := benchApps(10_000)
	runtime.GC()
	fmt.Printf("apps-rss-mb=%.1f\n", procStatusMB("VmHWM:"))
	snap, body := fullSnapshot(apps)
	var yaml counter
	if err := snap.WriteYAML(&yaml); err != nil || snap.Len() != 10_000 || body == 0 || yaml == 0 {
		t.Fatalf("snapshot of %d entities", snap.Len())
	}
	fmt.Printf("peak-rss-mb=%.1f\n", peakRSSMB())
}
