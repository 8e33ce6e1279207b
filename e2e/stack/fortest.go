package stack

import (
	"context"
	"testing"
)

// StartForTest starts a stack for t and stops it when t ends; when t failed,
// the end of each named component's log goes to t's output first.
func StartForTest(ctx context.Context, t testing.TB, logsOnFailure ...string) *Stack {
	t.Helper()
	return StartWithForTest(ctx, t, Options{}, logsOnFailure...)
}

// StartWithForTest is StartForTest with options (Logf is t's).
func StartWithForTest(ctx context.Context, t testing.TB, opts Options, logsOnFailure ...string) *Stack {
	t.Helper()
	opts.Logf = t.Logf
	st, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, c := range logsOnFailure {
				t.Logf("--- end of %s log:\n%s", c, st.Logs(c, 40))
			}
		}
		if err := st.Stop(); err != nil {
			t.Errorf("stop stack: %v", err)
		}
	})
	return st
}
