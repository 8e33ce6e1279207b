package config

import "time"

// Audit configures the audit log (GET invocations).
type Audit struct {
	// Retention is how long invocations are kept; 0 keeps them forever.
	Retention Duration `yaml:"retention"`
	// PruneInterval is how often one replica deletes what is older.
	PruneInterval Duration `yaml:"pruneInterval"`
}

// DefaultAudit keeps about 13 months, a year of audit plus a margin.
func DefaultAudit() Audit {
	return Audit{Retention: Duration(400 * 24 * time.Hour), PruneInterval: Duration(time.Hour)}
}

func (a Audit) validate(p *problems) {
	if a.Retention.D() != 0 && a.Retention.D() < 24*time.Hour {
		p.add("audit.retention", "must be 0 (keep forever) or at least 24h")
	}
	if a.PruneInterval.D() < time.Second {
		p.add("audit.pruneInterval", "must be at least 1s")
	}
}
