package config

import (
	"fmt"
	"regexp"
	"time"
)

// DevEx configures adoption metrics: the collection from Backstage's
// scaffolder and catalog and from Argo CD (one replica collects), their
// retention, and who may read them.
type DevEx struct {
	// Disabled turns collection off; the query routes still answer from
	// what the store holds.
	Disabled bool `yaml:"disabled"`
	// Interval between collections; the catalog is read every CatalogEvery.
	Interval     Duration `yaml:"interval"`
	CatalogEvery int      `yaml:"catalogEvery"`
	// StuckAfter is how long a run may go without a heartbeat before the
	// stuck gauge counts it.
	StuckAfter Duration `yaml:"stuckAfter"`
	// RawRetention keeps runs, deployments and removed components;
	// RollupRetention keeps the daily rollups behind the counts.
	RawRetention    Duration `yaml:"rawRetention"`
	RollupRetention Duration `yaml:"rollupRetention"`
	// ReaderGroups are the Backstage groups ("group:default/platform")
	// whose members may read the metrics with their user token. Plugin and
	// static tokens may always read them.
	ReaderGroups []string `yaml:"readerGroups"`
	// BackstageToken is a static token listed in Backstage's
	// backend.auth.externalAccess; empty uses paved's own plugin tokens,
	// which the scaffolder and the catalog accept through discovery.
	BackstageToken Secret `yaml:"backstageToken"`
	// Feedback configures developers' ratings of their runs.
	Feedback DevExFeedback `yaml:"feedback"`
	// SLOs are the service level objectives of the golden paths and of
	// paved itself (docs/slo.md). Setting the list replaces the defaults.
	SLOs []SLO `yaml:"slos"`
}

// SLO is one service level objective: a share of good events of an
// indicator (sli) to keep over a compliance window, for one template or,
// without template, for all.
type SLO struct {
	Name string `yaml:"name"`
	// SLI is runSuccess, timeToHealthy or availability.
	SLI      string `yaml:"sli"`
	Template string `yaml:"template"`
	// Objective is the target share of good events, e.g. 0.95.
	Objective float64 `yaml:"objective"`
	// Threshold is the time to healthy that counts as good (timeToHealthy).
	Threshold Duration `yaml:"threshold"`
	// Window is the compliance window of the error budget (default 720h,
	// the 30 days the burn-rate alert factors assume).
	Window Duration `yaml:"window"`
}

// DevExFeedback configures developers' ratings of their golden-path runs.
type DevExFeedback struct {
	// EditWindow is how long after the first answer a developer may change it.
	EditWindow Duration `yaml:"editWindow"`
	// CommentReaderGroups may read the comments (the platform team); empty:
	// readerGroups. Scores are readable by readerGroups.
	CommentReaderGroups []string `yaml:"commentReaderGroups"`
}

// Secret is a configuration value printed masked.
type Secret string

// MarshalYAML masks the secret: configurations are only ever printed.
func (s Secret) MarshalYAML() (any, error) { return mask(string(s)), nil }

// DefaultDevEx is the adoption metrics configuration paved starts with.
func DefaultDevEx() DevEx {
	return DevEx{
		Interval:        Duration(time.Minute),
		CatalogEvery:    5,
		StuckAfter:      Duration(10 * time.Minute),
		RawRetention:    Duration(400 * 24 * time.Hour),
		RollupRetention: Duration(5 * 365 * 24 * time.Hour),
		Feedback:        DevExFeedback{EditWindow: Duration(7 * 24 * time.Hour)},
		SLOs: []SLO{
			{Name: "run-success", SLI: "runSuccess", Objective: 0.95},
			{Name: "time-to-healthy", SLI: "timeToHealthy", Objective: 0.95, Threshold: Duration(10 * time.Minute)},
			{Name: "action-availability", SLI: "availability", Objective: 0.995},
		},
	}
}

// DefaultSLOWindow is the compliance window of an objective without one.
const DefaultSLOWindow = 30 * 24 * time.Hour

var sloNamePattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

func (d *DevEx) fillSLODefaults() {
	for i := range d.SLOs {
		if d.SLOs[i].Window == 0 {
			d.SLOs[i].Window = Duration(DefaultSLOWindow)
		}
	}
}

func validateSLOs(slos []SLO, p *problems) {
	names := map[string]bool{}
	for i, s := range slos {
		f := fmt.Sprintf("devex.slos[%d]", i)
		switch {
		case !sloNamePattern.MatchString(s.Name):
			p.add(f+".name", "must be lowercase letters, digits and dashes (at most 63), got %q", s.Name)
		case names[s.Name]:
			p.add(f+".name", "%q is used by another objective", s.Name)
		}
		names[s.Name] = true
		switch s.SLI {
		case "runSuccess", "availability":
			if s.Threshold != 0 {
				p.add(f+".threshold", "applies to sli timeToHealthy only")
			}
		case "timeToHealthy":
			if s.Threshold.D() < time.Second {
				p.add(f+".threshold", "must be at least 1s for timeToHealthy")
			}
		default:
			p.add(f+".sli", "must be runSuccess, timeToHealthy or availability, got %q", s.SLI)
		}
		if !(s.Objective > 0 && s.Objective < 1) {
			p.add(f+".objective", "must be between 0 and 1 exclusive (0.95 for 95 %%), got %v", s.Objective)
		}
		if w := s.Window.D(); w != 0 && (w < time.Hour || w > 366*24*time.Hour) {
			p.add(f+".window", "must be between 1h and 8784h")
		}
		if s.Template != "" && !templateRefPattern.MatchString(s.Template) {
			p.add(f+".template", "must be a template entity ref like template:default/service, got %q", s.Template)
		}
	}
}

var templateRefPattern = regexp.MustCompile(`^(?i)template:([a-z0-9][-a-z0-9_.]*/)?[a-z0-9][-a-z0-9_.]*$`)

var groupRefPattern = regexp.MustCompile(`^(?i)(group:)?([a-z0-9][-a-z0-9_.]*/)?[a-z0-9][-a-z0-9_.]*$`)

func (d DevEx) validate(p *problems) {
	if d.Interval.D() < 10*time.Second {
		p.add("devex.interval", "must be at least 10s")
	}
	if d.CatalogEvery < 1 {
		p.add("devex.catalogEvery", "must be at least 1")
	}
	if d.StuckAfter.D() <= 0 {
		p.add("devex.stuckAfter", "must be positive")
	}
	if d.RawRetention.D() < 24*time.Hour {
		p.add("devex.rawRetention", "must be at least 24h")
	}
	if d.RollupRetention.D() < d.RawRetention.D() {
		p.add("devex.rollupRetention", "must be at least devex.rawRetention")
	}
	for i, g := range d.ReaderGroups {
		if !groupRefPattern.MatchString(g) {
			p.add(fmt.Sprintf("devex.readerGroups[%d]", i), "must be a group entity ref like group:default/platform, got %q", g)
		}
	}
	if d.Feedback.EditWindow.D() < time.Minute {
		p.add("devex.feedback.editWindow", "must be at least 1m")
	}
	for i, g := range d.Feedback.CommentReaderGroups {
		if !groupRefPattern.MatchString(g) {
			p.add(fmt.Sprintf("devex.feedback.commentReaderGroups[%d]", i), "must be a group entity ref like group:default/platform, got %q", g)
		}
	}
	validateSLOs(d.SLOs, p)
	if d.BackstageToken != "" && len(d.BackstageToken) < 16 {
		p.add("devex.backstageToken", "must be at least 16 characters")
	}
}
