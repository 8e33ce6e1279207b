package devex

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Golden-path freshness: which version of its template each service was
// created from, and how far behind the template's current version it is.
//
// A template's version is its entity's paved.dev/template-version
// annotation (whatever the platform team writes there: "1.4.0", a date, a
// commit), else the entity's metadata.etag, which the catalog changes with
// every change of the entity. A run carries the version of the template it
// ran (the scaffolder keeps the template's metadata in the task's
// spec.templateInfo); the catalog says which version is current. Versions
// are ordered by when paved first saw them (in a run or in the catalog), so
// etags and free-form annotations order as well as semantic versions.

// AnnotationTemplateVersion is the template annotation that names its version.
const AnnotationTemplateVersion = "paved.dev/template-version"

// TemplateVersionOf is the version of a template entity with these
// annotations and etag: the annotation when set, else the etag.
func TemplateVersionOf(annotations map[string]string, etag string) string {
	if v := annotations[AnnotationTemplateVersion]; v != "" {
		return v
	}
	return etag
}

// TemplateVersion is one version of a template.
type TemplateVersion struct {
	TemplateRef string
	Version     string
	// FirstSeen is when paved first saw the version: the creation of the
	// first run of it, or the catalog look that found it.
	FirstSeen time.Time
	// Current says the catalog listed this version at its last look, at
	// ListedAt.
	Current  bool
	ListedAt time.Time
}

// ServiceVersion is the version of its template a service was created from:
// the latest succeeded run that registered it.
type ServiceVersion struct {
	Service     string // the entity ref the run registered
	TemplateRef string
	Owner       string // the component's owner in the catalog, else the run's
	Version     string
	TaskID      string
	CreatedAt   time.Time // of the run
}

// FreshnessStore is what freshness reads of the store.
type FreshnessStore interface {
	// TemplateVersions returns every known version of the templates (of
	// template, when not ""), oldest first per template.
	TemplateVersions(ctx context.Context, template string) ([]TemplateVersion, error)
	// ServiceVersions returns the services created from a template (of owner
	// and template, when not ""), but those the catalog removed.
	ServiceVersions(ctx context.Context, owner, template string) ([]ServiceVersion, error)
	// FreshnessGeneration changes with every write to what the two above
	// read, on any replica.
	FreshnessGeneration(ctx context.Context) (int64, error)
}

// TemplateCatalog lists the catalog's templates with their current versions.
type TemplateCatalog interface {
	Templates(ctx context.Context) ([]TemplateVersion, error)
}

// MaxLaggards bounds the laggards a freshness answer lists in JSON; the CSV
// lists them all.
const MaxLaggards = 100

// ServiceFreshness is one service and how far behind its template it is.
type ServiceFreshness struct {
	Service        string    `json:"service"`
	TemplateRef    string    `json:"templateRef"`
	Owner          string    `json:"owner"`
	Version        string    `json:"version"`
	CurrentVersion string    `json:"currentVersion"`
	Outdated       bool      `json:"outdated"`
	VersionsBehind int64     `json:"versionsBehind"`
	DaysBehind     float64   `json:"daysBehind"`
	CreatedAt      time.Time `json:"createdAt"`
}

// TemplateFreshness sums one template's services.
type TemplateFreshness struct {
	TemplateRef       string  `json:"templateRef"`
	CurrentVersion    string  `json:"currentVersion"`
	Services          int64   `json:"services"`
	Outdated          int64   `json:"outdated"`
	MaxVersionsBehind int64   `json:"maxVersionsBehind"`
	MaxDaysBehind     float64 `json:"maxDaysBehind"`
}

// TeamFreshness sums one owner's services.
type TeamFreshness struct {
	Owner             string  `json:"owner"`
	Services          int64   `json:"services"`
	Outdated          int64   `json:"outdated"`
	MaxVersionsBehind int64   `json:"maxVersionsBehind"`
	MaxDaysBehind     float64 `json:"maxDaysBehind"`
}

// Freshness is GET devex/v1/freshness.
type Freshness struct {
	Services  int64               `json:"services"`
	Outdated  int64               `json:"outdated"`
	Templates []TemplateFreshness `json:"templates"`
	Teams     []TeamFreshness     `json:"teams"`
	// Laggards are the outdated services, furthest behind first, at most
	// MaxLaggards; LaggardsTotal counts them all.
	Laggards      []ServiceFreshness `json:"laggards"`
	LaggardsTotal int64              `json:"laggardsTotal"`
}

// Freshness returns how many services of f's owner and template run on an
// outdated version of their template, and how far behind. It is the state
// now: f's dates do not apply.
func (s *Service) Freshness(ctx context.Context, f Filter) (Freshness, error) {
	all, err := s.serviceFreshness(ctx, f)
	if err != nil {
		return Freshness{}, err
	}
	return summarizeFreshness(all), nil
}

// FreshnessServices returns every service of f with its freshness, furthest
// behind first (the CSV of GET devex/v1/freshness).
func (s *Service) FreshnessServices(ctx context.Context, f Filter) ([]ServiceFreshness, error) {
	return s.serviceFreshness(ctx, f)
}

// freshnessCache keeps the services' freshness per owner and template
// filter while the store's freshness generation is unchanged: every write to
// what it derives from (on any replica) moves the generation on, so a cached
// answer is never stale.
type freshnessCache struct {
	mu      sync.Mutex
	gen     int64
	answers map[[2]string][]ServiceFreshness
}

// maxFreshnessAnswers bounds the filters the cache holds at once.
const maxFreshnessAnswers = 256

// serviceFreshness returns the services of f with their freshness; the
// slice may be shared: callers only read it.
func (s *Service) serviceFreshness(ctx context.Context, f Filter) ([]ServiceFreshness, error) {
	store, ok := s.store.(FreshnessStore)
	if !ok {
		return nil, errors.New("the store does not keep template versions")
	}
	gen, err := store.FreshnessGeneration(ctx)
	if err != nil {
		return nil, err
	}
	key := [2]string{f.Owner, f.Template}
	c := &s.fresh
	c.mu.Lock()
	if c.gen == gen && c.answers != nil {
		if out, ok := c.answers[key]; ok {
			c.mu.Unlock()
			return out, nil
		}
	}
	c.mu.Unlock()
	out, err := s.computeFreshness(ctx, store, f)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.answers == nil || len(c.answers) >= maxFreshnessAnswers {
		// Read before computing: a write during it leaves this answer under
		// the older generation, which the next call no longer matches.
		c.gen, c.answers = gen, map[[2]string][]ServiceFreshness{}
	}
	c.answers[key] = out
	return out, nil
}

func (s *Service) computeFreshness(ctx context.Context, store FreshnessStore, f Filter) ([]ServiceFreshness, error) {
	versions, err := store.TemplateVersions(ctx, f.Template)
	if err != nil {
		return nil, err
	}
	services, err := store.ServiceVersions(ctx, f.Owner, f.Template)
	if err != nil {
		return nil, err
	}
	return CompareVersions(versions, services), nil
}

// CompareVersions says how far behind its template's current version each
// service is, furthest behind first. A template's current version is the one
// the catalog listed at its last look, else (no look, or a run saw a version
// first after it) the newest paved saw. A service
// is outdated when its version is not the current one; it is VersionsBehind
// the versions first seen after its own up to the current one (at least 1),
// and DaysBehind the days between its version and the current one first
// appearing (a libyear in days).
func CompareVersions(versions []TemplateVersion, services []ServiceVersion) []ServiceFreshness {
	type history struct {
		ordered []TemplateVersion // by first seen
		current int
	}
	byTemplate := map[string]*history{}
	for _, v := range versions {
		h := byTemplate[v.TemplateRef]
		if h == nil {
			h = &history{current: -1}
			byTemplate[v.TemplateRef] = h
		}
		h.ordered = append(h.ordered, v)
	}
	for _, h := range byTemplate {
		slices.SortStableFunc(h.ordered, func(a, b TemplateVersion) int {
			return cmp.Or(a.FirstSeen.Compare(b.FirstSeen), cmp.Compare(a.Version, b.Version))
		})
		// The catalog's version is current (a template may go back to an
		// older one), unless a run saw a version first after the catalog's
		// last look: the template changed since.
		h.current = len(h.ordered) - 1
		for i, v := range h.ordered {
			if v.Current && !h.ordered[len(h.ordered)-1].FirstSeen.After(v.ListedAt) {
				h.current = i
			}
		}
	}
	out := make([]ServiceFreshness, 0, len(services))
	for _, sv := range services {
		sf := ServiceFreshness{Service: sv.Service, TemplateRef: sv.TemplateRef, Owner: sv.Owner, Version: sv.Version,
			CurrentVersion: sv.Version, CreatedAt: sv.CreatedAt}
		if h := byTemplate[sv.TemplateRef]; h != nil {
			cur := h.ordered[h.current]
			sf.CurrentVersion = cur.Version
			if sv.Version != cur.Version {
				sf.Outdated = true
				own := slices.IndexFunc(h.ordered, func(v TemplateVersion) bool { return v.Version == sv.Version })
				sf.VersionsBehind = 1
				if own >= 0 && own < h.current {
					sf.VersionsBehind = int64(h.current - own)
					sf.DaysBehind = round(cur.FirstSeen.Sub(h.ordered[own].FirstSeen).Hours() / 24)
				}
			}
		}
		out = append(out, sf)
	}
	slices.SortStableFunc(out, func(a, b ServiceFreshness) int {
		return cmp.Or(
			cmp.Compare(b.VersionsBehind, a.VersionsBehind),
			cmp.Compare(b.DaysBehind, a.DaysBehind),
			cmp.Compare(a.TemplateRef, b.TemplateRef),
			cmp.Compare(a.Service, b.Service))
	})
	return out
}

func summarizeFreshness(all []ServiceFreshness) Freshness {
	out := Freshness{Templates: []TemplateFreshness{}, Teams: []TeamFreshness{}, Laggards: []ServiceFreshness{}}
	templates := map[string]int{}
	teams := map[string]int{}
	for _, sf := range all {
		i, ok := templates[sf.TemplateRef]
		if !ok {
			i = len(out.Templates)
			templates[sf.TemplateRef] = i
			out.Templates = append(out.Templates, TemplateFreshness{TemplateRef: sf.TemplateRef, CurrentVersion: sf.CurrentVersion})
		}
		j, ok := teams[sf.Owner]
		if !ok {
			j = len(out.Teams)
			teams[sf.Owner] = j
			out.Teams = append(out.Teams, TeamFreshness{Owner: sf.Owner})
		}
		tpl, team := &out.Templates[i], &out.Teams[j]
		out.Services++
		tpl.Services++
		team.Services++
		if !sf.Outdated {
			continue
		}
		out.Outdated++
		tpl.Outdated++
		team.Outdated++
		tpl.MaxVersionsBehind = max(tpl.MaxVersionsBehind, sf.VersionsBehind)
		tpl.MaxDaysBehind = max(tpl.MaxDaysBehind, sf.DaysBehind)
		team.MaxVersionsBehind = max(team.MaxVersionsBehind, sf.VersionsBehind)
		team.MaxDaysBehind = max(team.MaxDaysBehind, sf.DaysBehind)
		out.LaggardsTotal++
		if len(out.Laggards) < MaxLaggards {
			out.Laggards = append(out.Laggards, sf) // all is furthest behind first
		}
	}
	slices.SortStableFunc(out.Templates, func(a, b TemplateFreshness) int {
		return cmp.Or(cmp.Compare(b.Outdated, a.Outdated), cmp.Compare(a.TemplateRef, b.TemplateRef))
	})
	slices.SortStableFunc(out.Teams, func(a, b TeamFreshness) int {
		return cmp.Or(cmp.Compare(b.Outdated, a.Outdated), cmp.Compare(a.Owner, b.Owner))
	})
	return out
}

// FreshnessTable returns the services as rows for CSV, with a header.
func FreshnessTable(items []ServiceFreshness) [][]string {
	out := [][]string{{"service", "templateRef", "owner", "version", "currentVersion", "outdated", "versionsBehind", "daysBehind", "createdAt"}}
	for _, s := range items {
		out = append(out, []string{s.Service, s.TemplateRef, s.Owner, s.Version, s.CurrentVersion, strconvBool(s.Outdated),
			itoa(s.VersionsBehind), ftoa(s.DaysBehind), s.CreatedAt.UTC().Format(time.RFC3339)})
	}
	return out
}

func strconvBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// registerFreshnessGauges exports, per template, the services created from
// it and how many of them run on an outdated version (no service or user is
// an attribute: a template's services are many).
func registerFreshnessGauges(mt metric.Meter, svc *Service, ttl time.Duration, now func() time.Time, logger *slog.Logger) error {
	services, err1 := mt.Int64ObservableGauge("devex.golden_path.services", metric.WithUnit("{service}"),
		metric.WithDescription("Services created from a template, by template."))
	outdated, err2 := mt.Int64ObservableGauge("devex.golden_path.outdated", metric.WithUnit("{service}"),
		metric.WithDescription("Services created from an older version of their template than its current one, by template."))
	behind, err3 := mt.Int64ObservableGauge("devex.golden_path.versions_behind", metric.WithUnit("{version}"),
		metric.WithDescription("Most versions a service of the template is behind its current version."))
	if err := errors.Join(err1, err2, err3); err != nil {
		return err
	}
	var mu sync.Mutex
	var cachedAt time.Time
	var cached []TemplateFreshness
	_, err := mt.RegisterCallback(func(ctx context.Context, obs metric.Observer) error {
		mu.Lock()
		defer mu.Unlock()
		if t := now(); cachedAt.IsZero() || t.Sub(cachedAt) >= ttl {
			f, err := svc.Freshness(ctx, Filter{})
			if err != nil {
				logger.Warn("devex: freshness gauges from the store", "error", err)
			} else {
				cached, cachedAt = f.Templates, t
			}
		}
		for _, tf := range cached {
			attrs := metric.WithAttributes(attribute.String("template", tf.TemplateRef))
			obs.ObserveInt64(services, tf.Services, attrs)
			obs.ObserveInt64(outdated, tf.Outdated, attrs)
			obs.ObserveInt64(behind, tf.MaxVersionsBehind, attrs)
		}
		return nil
	}, services, outdated, behind)
	return err
}
