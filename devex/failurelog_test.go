package devex

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestFailureLogWarnsOncePerFailure(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var f failureLog
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	down := errors.New("scaffolder tasks: backstage scaffolder is unreachable")
	for i := range 10 { // ten one-minute intervals of the same failure
		f.failed(log, now.Add(time.Duration(i)*time.Minute), down)
	}
	f.failed(log, now.Add(40*time.Minute), down)                // a reminder after repeatWarningEvery
	f.failed(log, now.Add(41*time.Minute), errors.New("other")) // a new failure
	f.succeeded(log)
	f.succeeded(log) // quiet once recovered

	out := buf.String()
	if n := strings.Count(out, "level=WARN"); n != 3 {
		t.Errorf("%d warnings, want 3 (first, reminder, new failure):\n%s", n, out)
	}
	if n := strings.Count(out, "level=DEBUG"); n != 9 {
		t.Errorf("%d debug lines, want 9 repeats:\n%s", n, out)
	}
	if n := strings.Count(out, "collection complete again"); n != 1 {
		t.Errorf("%d recovery lines, want 1:\n%s", n, out)
	}
}
