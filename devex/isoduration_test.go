package devex

import (
	"testing"
	"time"
)

func TestParseISODuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"PT2H", 2 * time.Hour, true},
		{"PT30M", 30 * time.Minute, true},
		{"P1D", 24 * time.Hour, true},
		{"P1DT2H30M", 26*time.Hour + 30*time.Minute, true},
		{"PT1.5H", 90 * time.Minute, true},
		{"pt45s", 45 * time.Second, true},
		{"P1W", 7 * 24 * time.Hour, true},
		{"PT0,5H", 30 * time.Minute, true},
		{"", 0, false},
		{"P", 0, false},
		{"PT", 0, false},
		{"2H", 0, false},
		{"PT2H2H", 0, false},
		{"P2H", 0, false},    // hours belong after T
		{"PTT2H", 0, false},  // one T
		{"P-1D", 0, false},   // no negative durations
		{"P10Y", 0, false},   // more than a year
		{"PT1e3H", 0, false}, // no exponents
		{"PT2HX", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseISODuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseISODuration(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzParseISODuration(f *testing.F) {
	for _, s := range []string{"PT2H", "P1DT2H30M", "PT1.5H", "P1W", "P", "PT", "P1Y2M3W4DT5H6M7.5S"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseISODuration(s)
		if err == nil && (d < 0 || d > maxTimeSaved) {
			t.Fatalf("ParseISODuration(%q) = %v outside [0, %v]", s, d, maxTimeSaved)
		}
	})
}

func TestGroupRef(t *testing.T) {
	for in, want := range map[string]string{
		"team-a":            "group:default/team-a",
		"group:team-a":      "group:default/team-a",
		"default/Team-A":    "group:default/team-a",
		"group:ops/sre":     "group:ops/sre",
		"user:default/jane": "user:default/jane",
		"":                  "",
	} {
		if got := GroupRef(in); got != want {
			t.Errorf("GroupRef(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTier(t *testing.T) {
	for _, tt := range []struct {
		days    int64
		period  float64
		tier    string
		perWeek float64
	}{
		{20, 28, "daily", 5}, {12, 28, "daily", 3}, {4, 28, "weekly", 1}, {2, 28, "monthly", 0.5},
		{1, 90, "yearly", 0.0778}, {0, 28, "none", 0},
	} {
		pw, tier := Tier(tt.days, tt.period)
		if tier != tt.tier || pw != tt.perWeek {
			t.Errorf("Tier(%d days in %v) = %v, %s; want %v, %s", tt.days, tt.period, pw, tier, tt.perWeek, tt.tier)
		}
	}
}
