package server

import (
	"strings"
	"testing"
)

func TestReasonPhrase(t *testing.T) {
	tests := []struct{ in, want string }{
		{"existing application spec is different, use upsert flag to force update", "existing application spec is different, use upsert flag to force update"},
		{"line one\r\nHTTP/1.1 200 OK\r\nX: y", "line one HTTP/1.1 200 OK X: y"},
		{"tab\tand\x00nul\x7f", "tab and nul"},
		{"waiting … done → next “quoted” – ok é", `waiting ... done -> next "quoted" - ok ?`},
		{"bad utf8 \xff\xfe end", "bad utf8 ?? end"},
		{"  \n", ""},
	}
	for _, tt := range tests {
		if got := reasonPhrase(tt.in); got != tt.want {
			t.Errorf("reasonPhrase(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := reasonPhrase(strings.Repeat("a → ", 500))
	if len(long) > maxReasonBytes || !strings.HasSuffix(long, "...") {
		t.Errorf("long reason: %d bytes, %q", len(long), long[len(long)-10:])
	}
	for _, r := range long {
		if r < 0x20 || r > 0x7e {
			t.Fatalf("byte %q in a reason", r)
		}
	}
}

func FuzzReasonPhrase(f *testing.F) {
	f.Add("invalid input: name: is required")
	f.Add("a\r\nb\x00…")
	f.Fuzz(func(t *testing.T, s string) {
		r := reasonPhrase(s)
		if len(r) > maxReasonBytes {
			t.Fatalf("%d bytes", len(r))
		}
		for i := 0; i < len(r); i++ {
			if r[i] < 0x20 || r[i] > 0x7e {
				t.Fatalf("byte %#x at %d", r[i], i)
			}
		}
	})
}
