package sqlstore

import (
	"testing"
	"time"
)

func TestRebind(t *testing.T) {
	tests := []struct{ in, sqlite, postgres string }{
		{"SELECT 1", "SELECT 1", "SELECT 1"},
		{"SELECT a FROM t WHERE a = ? AND b < ?", "SELECT a FROM t WHERE a = ? AND b < ?", "SELECT a FROM t WHERE a = $1 AND b < $2"},
		{"SELECT '?', \"a?\" FROM t WHERE a = ?", "SELECT '?', \"a?\" FROM t WHERE a = ?", "SELECT '?', \"a?\" FROM t WHERE a = $1"},
		{"VALUES ('it''s?', ?)", "VALUES ('it''s?', ?)", "VALUES ('it''s?', $1)"},
		{"?,?,?,?,?,?,?,?,?,?,?", "?,?,?,?,?,?,?,?,?,?,?", "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11"},
	}
	for _, tt := range tests {
		if got := SQLite.Rebind(tt.in); got != tt.sqlite {
			t.Errorf("SQLite.Rebind(%q) = %q, want %q", tt.in, got, tt.sqlite)
		}
		if got := Postgres.Rebind(tt.in); got != tt.postgres {
			t.Errorf("Postgres.Rebind(%q) = %q, want %q", tt.in, got, tt.postgres)
		}
	}
}

func TestTimeRoundTrip(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.FixedZone("CET", 3600)
	}
	in := time.Date(2025, 3, 14, 10, 26, 53, 589793238, paris)
	want := in.UTC().Truncate(time.Microsecond)
	for _, d := range []Dialect{SQLite, Postgres} {
		var got time.Time
		if err := (timeColumn{&got}).Scan(d.Time(in)); err != nil {
			t.Fatalf("%s: Scan: %v", d.Name, err)
		}
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%s: %v came back as %v, want %v in UTC", d.Name, in, got, want)
		}
		if v := d.Time(time.Time{}); v != nil {
			t.Errorf("%s: Time(zero) = %v, want nil (NULL)", d.Name, v)
		}
		got = in
		if err := (timeColumn{&got}).Scan(nil); err != nil || !got.IsZero() {
			t.Errorf("%s: Scan(NULL) = %v, %v; want the zero time", d.Name, got, err)
		}
	}
	var got time.Time
	if err := (timeColumn{&got}).Scan("2025-03-14"); err == nil {
		t.Error("Scan of a string succeeded; timestamps are never stored as text")
	}
}
