package devex

import (
	"context"
	"sync"
	"time"
)

// The four keys of DORA (DevOps Research and Assessment) from GitOps data:
// deployment frequency, lead time for changes, change failure rate and time
// to restore, read from the Argo CD applications paved created.
//
// A change is a sync of an application: an entry of its history, or a sync
// operation that failed. It fails when the application turns Degraded while
// it is the deployed one, when its operation fails, or when a later sync
// rolls back to an earlier revision. Its lead time runs from the commit of
// its revision (Argo CD's revision metadata) to the moment the application
// was Healthy on it. An incident runs from the application turning Degraded
// to its turning Healthy again: its length is the time to restore.

// DORA performance tiers, best first; TierNone when there is nothing to rate.
const (
	TierElite  = "elite"
	TierHigh   = "high"
	TierMedium = "medium"
	TierLow    = "low"
	TierNone   = "none"
)

// DORATiers lists the tiers, best first (generated into the frontend's types).
var DORATiers = []string{TierElite, TierHigh, TierMedium, TierLow, TierNone}

// DeploymentFrequencyTiers are the values of Tier (the Four Keys dashboard's
// deployment-frequency buckets), best first.
var DeploymentFrequencyTiers = []string{"daily", "weekly", "monthly", "yearly", "none"}

// DORAGroupings are the groupings of GET devex/v1/dora.
var DORAGroupings = []string{"service", "team", "template"}

// Bands of the Accelerate State of DevOps report 2021 (the last one to band
// all four keys by elite/high/medium/low). Where the report leaves a gap
// between two tiers, the better tier extends to the worse one's start; where
// it gives several tiers the same band (change failure rate: 16-30 % for
// high, medium and low), the Four Keys project's split (46-60 % is low)
// separates them.
const (
	day   = 24 * time.Hour
	week  = 7 * day
	month = 30 * day
)

// DeploymentFrequencyTier rates the deployments of a period: elite on
// demand (at least once a day on average), high at least once a month
// (the report: between once a week and once a month), medium at least once
// every six months, low fewer.
func DeploymentFrequencyTier(deployments int64, period time.Duration) string {
	if deployments == 0 || period <= 0 {
		return TierNone
	}
	n, days := float64(deployments), period.Hours()/24
	switch {
	case n >= days: // at least once a day
		return TierElite
	case n*30 >= days: // at least once every 30 days
		return TierHigh
	case n*182 >= days: // at least once every six months
		return TierMedium
	}
	return TierLow
}

// LeadTimeTier rates a median lead time for changes: elite under an hour,
// high under a week, medium under six months, low beyond.
func LeadTimeTier(d time.Duration, samples int) string {
	switch {
	case samples == 0:
		return TierNone
	case d < time.Hour:
		return TierElite
	case d < week:
		return TierHigh
	case d < 182*day:
		return TierMedium
	}
	return TierLow
}

// TimeToRestoreTier rates a median time to restore: elite under an hour,
// high under a day, medium under a week, low beyond.
func TimeToRestoreTier(d time.Duration, samples int) string {
	switch {
	case samples == 0:
		return TierNone
	case d < time.Hour:
		return TierElite
	case d < day:
		return TierHigh
	case d < week:
		return TierMedium
	}
	return TierLow
}

// ChangeFailureTier rates a change failure rate (0..1): elite up to 15 %,
// high up to 30 %, medium up to 45 %, low above.
func ChangeFailureTier(rate float64, changes int64) string {
	switch {
	case changes == 0:
		return TierNone
	case rate <= 0.15:
		return TierElite
	case rate <= 0.30:
		return TierHigh
	case rate <= 0.45:
		return TierMedium
	}
	return TierLow
}

// Failure reasons of a change.
const (
	FailureDegraded  = "degraded"  // the app turned Degraded on it
	FailureOperation = "operation" // its sync operation failed
	FailureRollback  = "rollback"  // a later sync went back to an earlier revision
)

// AppState is an application as one watch event (or listing) shows it.
type AppState struct {
	Key         string // instance/namespace/name
	Instance    string
	Namespace   string
	Name        string
	Project     string
	Service     string
	Owner       string // group entity ref, "" when unknown
	TemplateRef string
	Environment string
	Health      string // Argo CD's health status
	// HealthSince is Argo CD's time of the last health change, zero when it
	// does not say.
	HealthSince  time.Time
	ReconciledAt time.Time
	Synced       bool
	Revision     string // the revision the app is synced to
	// OperationPhase is the phase of the last sync operation.
	OperationPhase string
	History        []DeploymentEvent // oldest first, as Argo CD keeps it
	ObservedAt     time.Time
	// SeenSynced says an earlier look showed the same latest sync: this one
	// comes from a reconciliation after it (Argo CD keeps whole seconds, so
	// reconciledAt may equal the sync's end).
	SeenSynced bool
}

// ChangeRef names a stored change whose commit time is not known yet.
type ChangeRef struct {
	AppKey, DeployID, Revision string
}

// DORAChange is what storing an app state changed.
type DORAChange struct {
	// Changes are the syncs stored for the first time; Failed the changes
	// that failed now; Healthy the lead times that became known; Opened and
	// Restored the incidents that began and ended.
	Changes, Failed int
	Opened          int
	Restored        []time.Duration
	// NeedCommit lists the changes without a commit time.
	NeedCommit []ChangeRef
}

// KeysRow sums one group's changes and incidents, as the store reads them.
type KeysRow struct {
	Group          string
	Deployments    int64 // successful syncs
	DeploymentDays int64
	Changes        int64 // syncs and failed sync operations
	FailedChanges  int64
	LeadTimesMS    []int64 // sorted
	RestoresMS     []int64 // sorted, of restored incidents
	OpenIncidents  int64
}

// FourKeys is one group's (or everyone's) figures: one row of GET devex/v1/dora.
type FourKeys struct {
	// Group is the service, team (group entity ref) or template; empty overall.
	Group                   string  `json:"group,omitempty"`
	Deployments             int64   `json:"deployments"`
	DeploymentDays          int64   `json:"deploymentDays"`
	DeploymentsPerDay       float64 `json:"deploymentsPerDay"`
	DeploymentFrequencyTier string  `json:"deploymentFrequencyTier"`
	// LeadTimeSeconds is the median lead time for changes of the changes
	// whose commit and healthy moments are known (LeadTimeSamples).
	LeadTimeSeconds    float64 `json:"leadTimeSeconds"`
	LeadTimeP90Seconds float64 `json:"leadTimeP90Seconds"`
	LeadTimeSamples    int64   `json:"leadTimeSamples"`
	LeadTimeTier       string  `json:"leadTimeTier"`
	Changes            int64   `json:"changes"`
	FailedChanges      int64   `json:"failedChanges"`
	ChangeFailureRate  float64 `json:"changeFailureRate"`
	ChangeFailureTier  string  `json:"changeFailureTier"`
	// TimeToRestoreSeconds is the median length of the incidents restored.
	TimeToRestoreSeconds float64 `json:"timeToRestoreSeconds"`
	Restored             int64   `json:"restored"`
	OpenIncidents        int64   `json:"openIncidents"`
	TimeToRestoreTier    string  `json:"timeToRestoreTier"`
}

// DORAReport is GET devex/v1/dora.
type DORAReport struct {
	From    time.Time  `json:"from"`
	To      time.Time  `json:"to"`
	GroupBy string     `json:"groupBy"`
	Overall FourKeys   `json:"overall"`
	Items   []FourKeys `json:"items"`
}

// Keys computes the four keys of r over period.
func Keys(r KeysRow, period time.Duration) FourKeys {
	k := FourKeys{Group: r.Group, Deployments: r.Deployments, DeploymentDays: r.DeploymentDays,
		Changes: r.Changes, FailedChanges: r.FailedChanges, OpenIncidents: r.OpenIncidents,
		LeadTimeSamples: int64(len(r.LeadTimesMS)), Restored: int64(len(r.RestoresMS))}
	if period > 0 {
		k.DeploymentsPerDay = round(float64(r.Deployments) / (period.Hours() / 24))
	}
	k.DeploymentFrequencyTier = DeploymentFrequencyTier(r.Deployments, period)
	lead := median(r.LeadTimesMS)
	k.LeadTimeSeconds = float64(lead) / 1000
	k.LeadTimeP90Seconds = float64(percentile(r.LeadTimesMS, 90)) / 1000
	k.LeadTimeTier = LeadTimeTier(time.Duration(lead)*time.Millisecond, len(r.LeadTimesMS))
	if r.Changes > 0 {
		k.ChangeFailureRate = round(float64(r.FailedChanges) / float64(r.Changes))
	}
	k.ChangeFailureTier = ChangeFailureTier(k.ChangeFailureRate, r.Changes)
	restore := median(r.RestoresMS)
	k.TimeToRestoreSeconds = float64(restore) / 1000
	k.TimeToRestoreTier = TimeToRestoreTier(time.Duration(restore)*time.Millisecond, len(r.RestoresMS))
	return k
}

// median is the median of sorted values (the mean of the middle two for an
// even count), 0 for none.
func median(sorted []int64) int64 {
	n := len(sorted)
	switch {
	case n == 0:
		return 0
	case n%2 == 1:
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// DORAStore reads the four keys.
type DORAStore interface {
	// FourKeys returns one row per group (DORAGroupings) over f, and the
	// overall row (whose DeploymentDays counts distinct days over all groups).
	FourKeys(ctx context.Context, f Filter, groupBy string) (rows []KeysRow, overall KeysRow, err error)
}

// DORAGenerations is a DORAStore whose four keys' generation changes with
// every write to what FourKeys reads, on any replica.
type DORAGenerations interface {
	DORAGeneration(ctx context.Context) (int64, error)
}

// doraCache keeps the four keys' answers per range, filter and grouping
// while the store's generation is unchanged, so a cached answer is never
// stale (as freshnessCache).
type doraCache struct {
	mu      sync.Mutex
	gen     int64
	answers map[doraQuery]DORAReport
}

type doraQuery struct {
	from, to               time.Time
	owner, template, group string
}

// maxDORAAnswers bounds the answers the cache holds at once (5 years per
// service: about 1 MB each).
const maxDORAAnswers = 32

// DORA returns the four keys over f, overall and per group (one of
// DORAGroupings). The answer may be shared: callers only read it.
func (s *Service) DORA(ctx context.Context, f Filter, groupBy string) (DORAReport, error) {
	gens, ok := s.store.(DORAGenerations)
	if !ok {
		return DORA(ctx, s.store, f, groupBy)
	}
	gen, err := gens.DORAGeneration(ctx)
	if err != nil {
		return DORAReport{}, err
	}
	key := doraQuery{f.From.UTC(), f.To.UTC(), f.Owner, f.Template, groupBy}
	c := &s.dora
	c.mu.Lock()
	if rep, ok := c.answers[key]; ok && c.gen == gen {
		c.mu.Unlock()
		return rep, nil
	}
	c.mu.Unlock()
	rep, err := DORA(ctx, s.store, f, groupBy)
	if err != nil {
		return DORAReport{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.answers == nil || len(c.answers) >= maxDORAAnswers {
		// The generation was read before computing: a write during it
		// leaves this answer under the older one, which the next call no
		// longer matches.
		c.gen, c.answers = gen, map[doraQuery]DORAReport{}
	}
	c.answers[key] = rep
	return rep, nil
}

// DORA returns the four keys over f, overall and per group.
func DORA(ctx context.Context, store DORAStore, f Filter, groupBy string) (DORAReport, error) {
	rows, overall, err := store.FourKeys(ctx, f, groupBy)
	if err != nil {
		return DORAReport{}, err
	}
	period := f.To.Sub(f.From)
	rep := DORAReport{From: f.From, To: f.To, GroupBy: groupBy, Overall: Keys(overall, period), Items: make([]FourKeys, 0, len(rows))}
	for _, r := range rows {
		rep.Items = append(rep.Items, Keys(r, period))
	}
	return rep, nil
}

// OfService narrows r, a report per service, to the rows of service, an
// entity ref (a component's when it names no kind), as Backstage compares
// refs: a service's group is the paved.dev/entity-ref its template wrote,
// verbatim, so "component:shop" and "Component:default/Shop" are the rows of
// component:default/shop. Overall is the one matching row's figures; with
// no row it is a range without changes, and with several (one service under
// two spellings) it has no figures either, as their medians and distinct
// days do not combine: read the items. r is left as it was (the cache
// shares it).
func (r DORAReport) OfService(service string) DORAReport {
	ref := EntityRef(service, "component")
	out := r
	out.Items = []FourKeys{}
	for _, k := range r.Items {
		if EntityRef(k.Group, "component") == ref {
			out.Items = append(out.Items, k)
		}
	}
	out.Overall = Keys(KeysRow{}, r.To.Sub(r.From))
	if len(out.Items) == 1 {
		out.Overall = out.Items[0]
		out.Overall.Group = ""
	}
	return out
}

// DORATable returns rows for CSV, with a header.
func DORATable(items []FourKeys) [][]string {
	out := [][]string{{"group", "deployments", "deploymentDays", "deploymentsPerDay", "deploymentFrequencyTier",
		"leadTimeSeconds", "leadTimeP90Seconds", "leadTimeSamples", "leadTimeTier",
		"changes", "failedChanges", "changeFailureRate", "changeFailureTier",
		"timeToRestoreSeconds", "restored", "openIncidents", "timeToRestoreTier"}}
	for _, k := range items {
		out = append(out, []string{k.Group, itoa(k.Deployments), itoa(k.DeploymentDays), ftoa(k.DeploymentsPerDay), k.DeploymentFrequencyTier,
			ftoa(k.LeadTimeSeconds), ftoa(k.LeadTimeP90Seconds), itoa(k.LeadTimeSamples), k.LeadTimeTier,
			itoa(k.Changes), itoa(k.FailedChanges), ftoa(k.ChangeFailureRate), k.ChangeFailureTier,
			ftoa(k.TimeToRestoreSeconds), itoa(k.Restored), itoa(k.OpenIncidents), k.TimeToRestoreTier})
	}
	return out
}

// AppFacts are what one look at an application says about its changes and
// incidents, in terms the store can apply idempotently: applying the facts
// of the same state twice, from two replicas or after a restart, changes
// nothing the second time.
type AppFacts struct {
	State AppState
	// Changes are the syncs of the history and a failed sync operation.
	Changes []DeploymentEvent
	// Failures are changes this look shows failed.
	Failures []ChangeFailure
	// Healthy, when set, is the deployed change the app is Healthy on.
	Healthy *HealthyChange
	// Degraded, when set, is the incident the app is in.
	Degraded *Incident
	// RestoredAt, when set, ends the app's open incident: the app is Healthy.
	RestoredAt time.Time
}

// ChangeFailure says change DeployID failed, and why.
type ChangeFailure struct {
	DeployID, Reason string
}

// HealthyChange is the deployed change of a Healthy app and when it became
// Healthy: At when the store had seen the change unhealthy (or the moment
// Argo CD gives), AtFirstSight when this look is the first at the change.
type HealthyChange struct {
	DeployID         string
	At, AtFirstSight time.Time
}

// Incident is an app turned Degraded. ID is the same for every look at the
// same degradation: the deployed change and Argo CD's transition time.
type Incident struct {
	ID         string
	DeployID   string
	Revision   string
	DegradedAt time.Time
}

// Argo CD health statuses the keys read.
const (
	HealthHealthy  = "Healthy"
	HealthDegraded = "Degraded"
)

// FailedChangeID is the id of the change a failed sync operation of
// revision stands for (the collector's poll uses the same).
func FailedChangeID(revision string) string { return "failed:" + revision }

// Facts reads an application state. The health of the deployed change
// counts only once Argo CD has assessed it after the sync (reconciledAt
// after the sync's end, or a look after the one that showed the sync
// first): the status that reports a sync's end still shows the previous
// revision's health.
func Facts(s AppState) AppFacts {
	f := AppFacts{State: s, Changes: s.History}
	n := len(s.History)
	if s.OperationPhase == "Failed" || s.OperationPhase == "Error" {
		id := FailedChangeID(s.Revision)
		f.Changes = append(f.Changes, DeploymentEvent{ID: id, Revision: s.Revision, DeployedAt: s.ObservedAt})
		f.Failures = append(f.Failures, ChangeFailure{DeployID: id, Reason: FailureOperation})
	}
	// A sync back to a revision deployed before the previous one rolls the
	// previous one back.
	for i := 1; i < n; i++ {
		cur, prev := s.History[i], s.History[i-1]
		if cur.Revision == prev.Revision {
			continue
		}
		for _, earlier := range s.History[:i-1] {
			if earlier.Revision == cur.Revision {
				f.Failures = append(f.Failures, ChangeFailure{DeployID: prev.ID, Reason: FailureRollback})
				break
			}
		}
	}
	if n == 0 {
		return f
	}
	last := s.History[n-1]
	assessed := s.SeenSynced || s.ReconciledAt.IsZero() || s.ReconciledAt.After(last.DeployedAt)
	running := s.OperationPhase == "Running"
	switch s.Health {
	case HealthHealthy:
		f.RestoredAt = s.ObservedAt
		if !s.HealthSince.IsZero() {
			f.RestoredAt = s.HealthSince
		}
		// Healthy since the sync's second or later: on this change, even
		// before a later look (there may be none while nothing changes).
		turned := !s.HealthSince.IsZero() && !s.HealthSince.Before(last.DeployedAt)
		if (assessed || turned) && !running && s.Synced && s.Revision == last.Revision {
			h := &HealthyChange{DeployID: last.ID, At: s.ObservedAt, AtFirstSight: last.DeployedAt}
			if !s.HealthSince.IsZero() {
				h.At = later(s.HealthSince, last.DeployedAt)
				h.AtFirstSight = h.At
			}
			f.Healthy = h
		}
	case HealthDegraded:
		inc := &Incident{ID: last.ID, DeployID: last.ID, Revision: last.Revision, DegradedAt: s.ObservedAt}
		if !s.HealthSince.IsZero() {
			inc.DegradedAt = s.HealthSince
			inc.ID = last.ID + "@" + s.HealthSince.UTC().Format(time.RFC3339Nano)
		}
		f.Degraded = inc
		// The change failed when the degradation began after it was
		// deployed; without Argo CD's transition time, when its health was
		// assessed after the sync. (Argo CD 3 may report the sync's end
		// twice before it assesses the new revision's health.)
		began := assessed
		if !s.HealthSince.IsZero() {
			began = s.HealthSince.After(last.DeployedAt)
		}
		if began && !running && s.Revision == last.Revision {
			f.Failures = append(f.Failures, ChangeFailure{DeployID: last.ID, Reason: FailureDegraded})
		}
	}
	return f
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
