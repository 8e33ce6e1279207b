package paved_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/infra"
)

// An 82 ms call must read "durationMs":82 in the audit log, not 82000000.
func TestDurationMsIsMilliseconds(t *testing.T) {
	inv := paved.Invocation{ID: "i1", Status: paved.StatusSucceeded, Duration: 82*time.Millisecond + 400*time.Microsecond}
	b, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"durationMs":82,`) && !strings.HasSuffix(string(b), `"durationMs":82}`) {
		t.Fatalf("invocation JSON %s: want durationMs 82", b)
	}
	if strings.Count(string(b), "durationMs") != 1 {
		t.Fatalf("invocation JSON %s: durationMs more than once", b)
	}
	var back paved.Invocation
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Duration != 82*time.Millisecond || back.ID != "i1" {
		t.Fatalf("round trip: %+v", back)
	}
	b, err = json.Marshal(infra.Provisioning{ID: "p1", Duration: 82 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"durationMs":82`) || strings.Contains(string(b), "82000000") {
		t.Fatalf("provisioning JSON %s: want durationMs 82", b)
	}
}

func TestTruncateCutsOnARuneBoundary(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"short", "short"},
		{"exactly10!", "exactly10!"},
		{"abcdefghijkl", "abcdefghij…"},
		{"abcdefghé", "abcdefghé"},
		{"abcdefghiéé", "abcdefghi…"}, // é is two bytes: byte 10 is inside it
	} {
		if got := paved.Truncate(c.in, 10); got != c.want {
			t.Errorf("Truncate(%q, 10) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestLabelValue(t *testing.T) {
	for in, want := range map[string]string{
		"component:default/payments": "component.default.payments",
		"user:default/jane.doe":      "user.default.jane.doe",
		strings.Repeat("a", 80):      strings.Repeat("a", 63),
		"user:default/-x-":           "user.default.-x",
	} {
		if got := paved.LabelValue(in); got != want {
			t.Errorf("LabelValue(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSleepEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := paved.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep on an ended context = %v, want context.Canceled", err)
	}
	if err := paved.Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("Sleep = %v", err)
	}
}

// Error says each field once: appended after the message, unless the
// message (all the task log shows) already says it.
func TestErrorSaysEachFieldOnce(t *testing.T) {
	plain := paved.InvalidFields(paved.FieldError{Field: "name", Message: "is required"})
	if got := plain.Error(); got != "invalid input: name: is required" {
		t.Errorf("plain: %q", got)
	}
	said := &paved.Error{Code: paved.EForbidden, Message: "outside the guardrails: project: not allowed",
		Fields: []paved.FieldError{{Field: "project", Message: "not allowed"}, {Field: "repoURL", Message: "not allowed"}}}
	if got := said.Error(); got != "outside the guardrails: project: not allowed: repoURL: not allowed" {
		t.Errorf("partly said: %q", got)
	}
	said.Fields = said.Fields[:1]
	if got := said.Error(); got != "outside the guardrails: project: not allowed" {
		t.Errorf("all said: %q", got)
	}
}
