//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved/e2e/pavedproc"
)

// scaleToday is the last day of the 5 years the devex benchmark seeds
// (devex/scale_bench_test.go: its data ends at scaleEnd, 2026-11-01).
const scaleToday = "2026-10-31"

// TestBrowserAdoptionPage5Years measures the adoption page at the scale of
// issue 14 item 5: paved on the SQLite store of BenchmarkDevexEndpoints5Years
// (5 years of rollups for 1,000 templates and 500 teams, 5,000 services
// deploying, 100 ratings a day), the page in a real Chromium, opened
// several times. Each time it prints the first meaningful render after
// paved answers (target 300 ms) as TestBrowserAdoptionPage measures it, and
// checks that the KPI cards show paved's figures for the page's default 28
// days.
//
// The store is the benchmark's own, seeded once and kept in the temp
// directory (PAVED_BENCH_DEVEX_STORE names another, as for the benchmark):
// the test runs one sub-benchmark on SQLite, which seeds it the first time
// (minutes) and migrates it, then gives paved a copy.
func TestBrowserAdoptionPage5Years(t *testing.T) {
	dir, chromium, node := browserPrereqs(t)
	bundled, bundle := bundleBrowserApp(node, dir)

	seeded := time.Now()
	store := scaleBenchStore(t)
	seedTook := time.Since(seeded)
	db := filepath.Join(t.TempDir(), "paved.db")
	if err := copyFile(store, db); err != nil {
		t.Fatal(err)
	}

	const readerToken = "browser-scale-reader-token-0123456789"
	p := pavedproc.Start(t, pavedproc.Options{
		Config: fmt.Sprintf(`
backstage:
  discovery: http://127.0.0.1:1/api/{{pluginId}}
auth:
  staticTokens:
    - {token: "${BROWSER_READER_TOKEN}", subject: platform-page}
database:
  sqlitePath: %s
devex:
  disabled: true
  readerGroups: [group:default/platform]
infra:
  kindsDir: %s
`, db, filepath.Join(repoRoot(), "examples", "infra-kinds")),
		Env: []string{"BROWSER_READER_TOKEN=" + readerToken},
	})

	today, err := time.Parse(time.DateOnly, scaleToday)
	if err != nil {
		t.Fatal(err)
	}
	range28 := withParam(browserRange(today, 28), "grouping", "day")
	var sum browserSummary
	mustJSON(t, browserGet(t, p.BaseURL+"/api/paved/devex/v1/summary?"+range28.Encode(), readerToken), &sum)
	// 500 runs a day: the page cannot pass on an empty store.
	if got := sum.Kpis["runsStarted"].Value; got != 28*500 {
		t.Fatalf("the seeded store has %v runs in the 28 days to %s, want %d", got, scaleToday, 28*500)
	}
	// The page's JSON as paved sends it, for the report.
	var sizes []string
	for _, e := range []string{"templates", "deployments", "dora", "satisfaction", "freshness", "coverage"} {
		q := range28
		if e == "dora" {
			q = withParam(range28, "groupBy", "service")
		}
		sizes = append(sizes, fmt.Sprintf("%s %d kB", e, len(browserGet(t, p.BaseURL+"/api/paved/devex/v1/"+e+"?"+q.Encode(), readerToken))/1000))
	}

	if err := <-bundled; err != nil {
		t.Fatal(err)
	}
	app := browserAppServer(t, filepath.Join(dir, "dist"), p.BaseURL, readerToken)

	const loads = 5
	spec := map[string]any{
		"chromium":     chromium,
		"artifacts":    filepath.Join(dir, "artifacts"),
		"appUrl":       app.URL,
		"today":        scaleToday,
		"summary":      sum,
		"formatModule": filepath.Join(dir, "dist", "format.mjs"),
		"loads":        loads,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var result struct {
		OK         bool     `json:"ok"`
		Error      string   `json:"error"`
		Screenshot string   `json:"screenshot"`
		PageErrors []string `json:"pageErrors"`
		Loads      []struct {
			browserTimeline
			Render    int `json:"render"`
			SettledAt int `json:"settledAt"`
			Nodes     int `json:"nodes"`
			Summary   int `json:"summaryAnsweredAt"`
			Rendered  int `json:"renderedAt"`
		} `json:"loads"`
	}
	runErr, stderr := runDriver(t, ctx, node, dir, "drive-scale.mjs", spec, &result)
	if !result.OK || runErr != nil {
		t.Fatalf("the page at scale (%v): %s\nscreenshot: %s\npage errors: %v\nstderr:\n%s", runErr, result.Error, result.Screenshot, result.PageErrors, stderr)
	}
	if len(result.Loads) != loads {
		t.Fatalf("%d loads measured, want %d", len(result.Loads), loads)
	}
	var renders []int
	for i, l := range result.Loads {
		renders = append(renders, l.Render)
		fmt.Printf("E2E browser 5 years load %d: summary answered at %d ms, KPIs at %d, every panel at %d, %d elements; %s\n",
			i+1, l.Summary, l.Rendered, l.SettledAt, l.Nodes, l.browserTimeline)
	}
	sorted := slices.Clone(renders)
	slices.Sort(sorted)
	fmt.Printf("E2E browser 5 years: bundle %s (%.1f MB), store ready %s, JSON %s\n",
		bundle.took.Round(time.Millisecond), float64(bundle.Bytes)/1e6, seedTook.Round(time.Second), strings.Join(sizes, ", "))
	// Printed, not asserted (issue 14 item 5: target 300 ms).
	fmt.Printf("E2E browser first meaningful render after paved answers, 5 years for 1,000 templates and 500 teams: median %d ms, max %d ms (%d loads: %v)\n",
		sorted[len(sorted)/2], sorted[len(sorted)-1], loads, renders)
}

// scaleBenchStore returns the path of the devex benchmark's SQLite store,
// seeded and migrated: it runs one sub-benchmark on SQLite, which does both.
func scaleBenchStore(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", "^BenchmarkDevexEndpoints5Years$/^sqlite$/^slos$/^28d$", "-benchtime", "1x", "./devex/")
	cmd.Dir = repoRoot()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("seeding the devex benchmark's store: %v\n%s", err, out)
	}
	name := "5y"
	if own := os.Getenv("PAVED_BENCH_DEVEX_STORE"); own != "" {
		name += "_" + own
	}
	// Where scaleStore (devex/scale_bench_test.go) keeps it.
	return filepath.Join(os.TempDir(), "paved-devex-bench-"+name, "paved.db")
}

// browserTimeline is what the page went through (drivers' renderTimeline):
// paved's answers and the main thread's long tasks, on the page's clock.
type browserTimeline struct {
	Answers []struct {
		Path       string `json:"path"`
		Start, End int
		Bytes      int `json:"bytes"`
	} `json:"answers"`
	LongTasks []struct{ Start, Ms int } `json:"longTasks"`
}

func (tl browserTimeline) String() string {
	var answers, long []string
	for _, a := range tl.Answers {
		answers = append(answers, fmt.Sprintf("%s %d–%d (%d kB)", a.Path, a.Start, a.End, a.Bytes/1000))
	}
	for _, lt := range tl.LongTasks {
		long = append(long, fmt.Sprintf("%d+%d", lt.Start, lt.Ms))
	}
	return fmt.Sprintf("answers (ms) %s; long tasks (start+ms) %s", strings.Join(answers, ", "), strings.Join(long, " "))
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
