package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkStartup starts the real paved binary on its embedded defaults and
// measures the time until /healthz answers (target ≤ 300 ms) and the resident
// memory after a short idle period (target ≤ 60 MB).
func BenchmarkStartup(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "paved")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	var rssKB, anonKB int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		addr := freeAddr(b)
		cmd := exec.Command(bin, "serve")
		cmd.Env = append(os.Environ(), "PAVED_LISTEN="+addr, "PAVED_DATA_DIR="+filepath.Join(dir, fmt.Sprint("data", i)), "PAVED_LOG_LEVEL=warn")
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		for {
			resp, err := http.Get("http://" + addr + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Since(start) > 20*time.Second {
				cmd.Process.Kill()
				b.Fatal("paved did not start within 20s")
			}
			time.Sleep(2 * time.Millisecond)
		}
		total += time.Since(start)
		b.StopTimer()
		time.Sleep(time.Second)
		rssKB = max(rssKB, procField(b, fmt.Sprintf("/proc/%d/status", cmd.Process.Pid), "VmRSS:"))
		// Most of the RSS is pages of the binary mapped from disk (shared and
		// reclaimable); the anonymous part is paved's own memory.
		anonKB = max(anonKB, procField(b, fmt.Sprintf("/proc/%d/smaps_rollup", cmd.Process.Pid), "Anonymous:"))
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/start")
	b.ReportMetric(float64(rssKB)/1024, "idle-RSS-MB")
	b.ReportMetric(float64(anonKB)/1024, "idle-anon-MB")
}

func freeAddr(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func procField(b *testing.B, path, field string) int64 {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	b.Fatalf("no %s in %s", field, path)
	return 0
}
