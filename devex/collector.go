package devex

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/paved-dev/paved"
)

// Scaffolder reads Backstage's scaffolder task API.
type Scaffolder interface {
	// ListTasks returns one page of tasks, newest first.
	ListTasks(ctx context.Context, limit, offset int) ([]Task, error)
	GetTask(ctx context.Context, id string) (Task, error)
	TaskEvents(ctx context.Context, id string) ([]TaskEvent, error)
}

// Catalog reads the catalog's components.
type Catalog interface {
	Components(ctx context.Context) ([]Component, error)
}

// Apps lists the Argo CD applications of each instance.
type Apps interface {
	Instances() []string
	ListApps(ctx context.Context, instance, selector string, projects []string) ([]paved.App, error)
}

// CollectorStore is what the collector needs of the store.
type CollectorStore interface {
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
	GetCursor(ctx context.Context, name string) (string, error)
	SetCursor(ctx context.Context, name, value string) error
	UpsertRuns(ctx context.Context, runs []Run) (Change, error)
	UnfinishedRuns(ctx context.Context) ([]Run, error)
	SyncComponents(ctx context.Context, comps []Component, at time.Time) ([]Component, bool, error)
	SyncTemplateVersions(ctx context.Context, current []TemplateVersion, at time.Time) error
	RecordApps(ctx context.Context, obs []AppObservation) (AppChange, error)
	DeleteDevexBefore(ctx context.Context, rawBefore, rollupBefore time.Time) (int64, error)
}

// Recorder turns what the store changed into metrics; *Metrics is one.
type Recorder interface {
	RecordRuns(ctx context.Context, ch Change)
	RecordComponents(ctx context.Context, added []Component)
	RecordApps(ctx context.Context, ch AppChange)
}

// Names in the store.
const (
	LeaseName         = "devex-collector"
	TaskCursor        = "devex.scaffolder.tasks"
	managedBySelector = paved.LabelManagedBy + "=" + paved.ManagedByPaved
)

// CollectorOptions configure a Collector.
type CollectorOptions struct {
	Store      CollectorStore
	Scaffolder Scaffolder      // nil: no scaffolder collection
	Catalog    Catalog         // nil: no coverage
	Templates  TemplateCatalog // nil: templates' current versions only from their runs
	Apps       Apps            // nil: no Argo CD collection
	Recorder   Recorder        // nil: no metrics
	// Holder names this replica in the lease.
	Holder string
	// Interval between collections (default 1m); the catalog and retention
	// run every CatalogEvery collections (default 5).
	Interval     time.Duration
	CatalogEvery int
	PageSize     int // tasks per list request (default 100)
	// Overlap re-reads tasks created this long before the cursor, for tasks
	// whose creation committed late (default 1m).
	Overlap         time.Duration
	RawRetention    time.Duration // default 400 days
	RollupRetention time.Duration // default 5 years
	Logger          *slog.Logger
	Now             func() time.Time
}

// Collector copies adoption events from Backstage and Argo CD into the
// store. One replica collects at a time (a lease in the store); the cursor
// and idempotent upserts let a collector that stopped anywhere resume
// without losing or double counting an event.
type Collector struct {
	o         CollectorOptions
	leading   atomic.Bool // holds the lease
	round     int
	failures  failureLog
	collected bool // a collection completed since the start
}

// repeatWarningEvery is how often an unchanged collection failure is logged
// again as a warning; in between it is logged at debug level.
const repeatWarningEvery = 30 * time.Minute

// failureLog keeps a collection that keeps failing the same way (a paved with
// no Backstage to read) from writing the same warning every interval.
type failureLog struct {
	last    string
	warned  time.Time
	failing bool
}

func (f *failureLog) failed(log *slog.Logger, now time.Time, err error) {
	const msg = "devex: collection incomplete; the next one resumes from the cursor"
	if text := err.Error(); text != f.last || now.Sub(f.warned) >= repeatWarningEvery {
		log.Warn(msg, "error", err)
		f.last, f.warned = text, now
	} else {
		log.Debug(msg, "error", err)
	}
	f.failing = true
}

func (f *failureLog) succeeded(log *slog.Logger) {
	if f.failing {
		log.Info("devex: collection complete again")
	}
	*f = failureLog{}
}

// NewCollector returns a Collector with o's defaults filled in.
func NewCollector(o CollectorOptions) *Collector {
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.CatalogEvery <= 0 {
		o.CatalogEvery = 5
	}
	if o.PageSize <= 0 {
		o.PageSize = 100
	}
	if o.Overlap <= 0 {
		o.Overlap = time.Minute
	}
	if o.RawRetention <= 0 {
		o.RawRetention = 400 * 24 * time.Hour
	}
	if o.RollupRetention <= 0 {
		o.RollupRetention = 5 * 365 * 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Holder == "" {
		o.Holder = "paved"
	}
	return &Collector{o: o}
}

// Run collects every interval while it holds the lease, until ctx ends.
//
// Until its first collection completes, a Backstage that refuses connections
// (paved started before it, as in a dev stack) is waited for: logged once at
// info level and asked again after 1 s, doubling up to the interval, instead
// of a warning per interval.
func (c *Collector) Run(ctx context.Context) error {
	ticker := time.NewTicker(c.o.Interval)
	defer ticker.Stop()
	defer func() {
		c.leading.Store(false)
		_ = c.o.Store.ReleaseLease(context.WithoutCancel(ctx), LeaseName, c.o.Holder)
	}()
	var retry time.Duration // while waiting for Backstage
	for {
		held, err := c.o.Store.AcquireLease(ctx, LeaseName, c.o.Holder, 3*c.o.Interval)
		c.leading.Store(held && err == nil)
		switch {
		case err != nil && ctx.Err() == nil:
			c.o.Logger.Warn("devex: lease", "error", err)
		case held:
			switch err := c.CollectOnce(ctx); {
			case err == nil:
				c.collected, retry = true, 0
				c.failures.succeeded(c.o.Logger)
			case ctx.Err() == nil && !c.collected && errors.Is(err, syscall.ECONNREFUSED):
				if retry == 0 {
					c.o.Logger.Info("devex: waiting for Backstage before the first collection", "error", err)
				}
				retry = min(max(2*retry, time.Second), c.o.Interval)
			case ctx.Err() == nil:
				retry = 0
				c.failures.failed(c.o.Logger, c.o.Now(), err)
			}
		}
		next, timer := ticker.C, (*time.Timer)(nil)
		if retry > 0 {
			timer = time.NewTimer(retry)
			next = timer.C
		}
		select {
		case <-ctx.Done():
			return nil
		case <-next:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// Leading reports whether this replica holds the collector's lease.
func (c *Collector) Leading() bool { return c.leading.Load() }

// CollectOnce runs one collection: scaffolder tasks, then (every
// CatalogEvery rounds, and the first) catalog components and retention,
// then Argo CD apps. Each part runs even when another failed.
func (c *Collector) CollectOnce(ctx context.Context) error {
	var errs []error
	if c.o.Scaffolder != nil {
		if _, err := c.CollectTasks(ctx); err != nil {
			errs = append(errs, fmt.Errorf("scaffolder tasks: %w", err))
		}
	}
	if c.round%c.o.CatalogEvery == 0 {
		if c.o.Catalog != nil {
			if err := c.CollectComponents(ctx); err != nil {
				errs = append(errs, fmt.Errorf("catalog: %w", err))
			}
		}
		if c.o.Templates != nil {
			if err := c.CollectTemplates(ctx); err != nil {
				errs = append(errs, fmt.Errorf("catalog templates: %w", err))
			}
		}
		now := c.o.Now()
		if _, err := c.o.Store.DeleteDevexBefore(ctx, now.Add(-c.o.RawRetention), now.Add(-c.o.RollupRetention)); err != nil {
			errs = append(errs, err)
		}
	}
	c.round++
	if c.o.Apps != nil {
		if err := c.CollectApps(ctx); err != nil {
			errs = append(errs, fmt.Errorf("argo cd: %w", err))
		}
	}
	return errors.Join(errs...)
}

// CollectTasks reads the tasks created since the cursor, newest first, page
// by page, each page stored in one transaction; then refreshes the stored
// runs that are not final yet. The cursor (the newest creation time seen)
// moves only when every page is stored, so a collector stopped midway reads
// the same pages again, and the store ignores what it already has.
func (c *Collector) CollectTasks(ctx context.Context) (int, error) {
	raw, err := c.o.Store.GetCursor(ctx, TaskCursor)
	if err != nil {
		return 0, err
	}
	var watermark time.Time
	if raw != "" {
		if watermark, err = time.Parse(time.RFC3339Nano, raw); err != nil {
			return 0, fmt.Errorf("cursor %q: %w", raw, err)
		}
	}
	horizon := c.o.Now().Add(-c.o.RawRetention)
	stopBefore := watermark.Add(-c.o.Overlap)
	if stopBefore.Before(horizon) {
		stopBefore = horizon // older runs are past retention: counting them again would double count
	}
	newest := watermark
	seen := map[string]bool{}
	stored := 0
	for offset := 0; ; offset += c.o.PageSize {
		page, err := c.o.Scaffolder.ListTasks(ctx, c.o.PageSize, offset)
		if err != nil {
			return stored, err
		}
		var keep []Task
		done := len(page) < c.o.PageSize
		for _, t := range page {
			if t.CreatedAt.Before(stopBefore) {
				done = true
				continue
			}
			if !seen[t.ID] {
				seen[t.ID] = true
				keep = append(keep, t)
			}
			if t.CreatedAt.After(newest) {
				newest = t.CreatedAt
			}
		}
		n, err := c.storeTasks(ctx, keep)
		stored += n
		if err != nil {
			return stored, err
		}
		if done {
			break
		}
	}
	// Runs still open at the last look and older than this listing.
	unfinished, err := c.o.Store.UnfinishedRuns(ctx)
	if err != nil {
		return stored, err
	}
	var refreshed []Task
	for _, r := range unfinished {
		if seen[r.TaskID] {
			continue
		}
		t, err := c.o.Scaffolder.GetTask(ctx, r.TaskID)
		if paved.ErrorCode(err) == paved.ENotFound {
			continue // the scaffolder dropped it; it stays as last seen
		}
		if err != nil {
			return stored, err
		}
		refreshed = append(refreshed, t)
	}
	n, err := c.storeTasks(ctx, refreshed)
	stored += n
	if err != nil {
		return stored, err
	}
	if newest.After(watermark) {
		if err := c.o.Store.SetCursor(ctx, TaskCursor, newest.UTC().Format(time.RFC3339Nano)); err != nil {
			return stored, err
		}
	}
	return stored, nil
}

// storeTasks stores tasks as runs, reading the end time and the registered
// entity of final tasks from their events.
func (c *Collector) storeTasks(ctx context.Context, tasks []Task) (int, error) {
	if len(tasks) == 0 {
		return 0, nil
	}
	runs := make([]Run, 0, len(tasks))
	for _, t := range tasks {
		r := Run{TaskID: t.ID, TemplateRef: t.TemplateRef, Owner: t.Owner, UserRef: t.CreatedBy, Status: t.Status,
			CreatedAt: t.CreatedAt, HeartbeatAt: t.HeartbeatAt, TimeSaved: t.TimeSaved, TemplateVersion: t.TemplateVersion}
		if Final(t.Status) {
			finished, entity, err := c.finish(ctx, t)
			if err != nil {
				return 0, err
			}
			r.FinishedAt, r.EntityRef = finished, entity
		}
		runs = append(runs, r)
	}
	ch, err := c.o.Store.UpsertRuns(ctx, runs)
	if err != nil {
		return 0, err
	}
	if c.o.Recorder != nil {
		c.o.Recorder.RecordRuns(ctx, ch)
	}
	return len(runs), nil
}

// finish returns when a final task ended, from its completion (or
// cancellation) event, falling back on its last heartbeat: the scaffolder
// does not stamp the end on the task itself.
func (c *Collector) finish(ctx context.Context, t Task) (time.Time, string, error) {
	events, err := c.o.Scaffolder.TaskEvents(ctx, t.ID)
	if err != nil && paved.ErrorCode(err) != paved.ENotFound {
		return time.Time{}, "", err
	}
	var end time.Time
	entity := ""
	for _, e := range events {
		if e.Type == "completion" || e.Type == "cancelled" {
			end = e.CreatedAt
			if e.EntityRef != "" {
				entity = e.EntityRef
			}
		}
	}
	if end.IsZero() {
		end = t.HeartbeatAt
	}
	if end.IsZero() || end.Before(t.CreatedAt) {
		end = t.CreatedAt
	}
	return end, entity, nil
}

// CollectComponents stores a snapshot of the catalog's components.
func (c *Collector) CollectComponents(ctx context.Context) error {
	comps, err := c.o.Catalog.Components(ctx)
	if err != nil {
		return err
	}
	added, hadAny, err := c.o.Store.SyncComponents(ctx, comps, c.o.Now())
	if err != nil {
		return err
	}
	// The first snapshot is the catalog as it was, not entities created now.
	if hadAny && c.o.Recorder != nil {
		c.o.Recorder.RecordComponents(ctx, added)
	}
	return nil
}

// CollectTemplates stores the current version of every template of the
// catalog.
func (c *Collector) CollectTemplates(ctx context.Context) error {
	current, err := c.o.Templates.Templates(ctx)
	if err != nil {
		return err
	}
	return c.o.Store.SyncTemplateVersions(ctx, current, c.o.Now())
}

// CollectApps looks at every application paved created, on every instance.
func (c *Collector) CollectApps(ctx context.Context) error {
	now := c.o.Now()
	var obs []AppObservation
	var errs []error
	for _, inst := range c.o.Apps.Instances() {
		apps, err := c.o.Apps.ListApps(ctx, inst, managedBySelector, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", inst, err))
			continue
		}
		for _, a := range apps {
			obs = append(obs, Observe(a, now))
		}
	}
	if len(obs) > 0 {
		ch, err := c.o.Store.RecordApps(ctx, obs)
		if err != nil {
			return err
		}
		if c.o.Recorder != nil {
			c.o.Recorder.RecordApps(ctx, ch)
		}
	}
	return errors.Join(errs...)
}

// Observe turns an application as Argo CD reports it at now into an
// observation.
func Observe(a paved.App, now time.Time) AppObservation {
	ns := a.Namespace
	o := AppObservation{
		Key:         a.Instance + "/" + ns + "/" + a.Name,
		Service:     a.Annotations[paved.AnnotationEntityRef],
		Environment: a.Destination.Namespace,
		TemplateRef: a.Annotations[paved.AnnotationTemplate],
		TaskID:      a.Annotations[paved.AnnotationTaskID],
		CreatedAt:   a.CreatedAt,
		Healthy:     a.Healthy(),
	}
	if o.Service == "" {
		o.Service = a.Name
	}
	if o.Environment == "" {
		o.Environment = a.Destination.Name
	}
	if o.CreatedAt.IsZero() {
		if t, err := time.Parse(time.RFC3339, a.Annotations[paved.AnnotationCreatedAt]); err == nil {
			o.CreatedAt = t
		} else {
			o.CreatedAt = now
		}
	}
	var lastSync time.Time
	for _, h := range a.History {
		o.Deployments = append(o.Deployments, DeploymentEvent{ID: fmt.Sprint(h.ID), Revision: h.Revision, Succeeded: true, DeployedAt: h.DeployedAt})
		if h.DeployedAt.After(lastSync) {
			lastSync = h.DeployedAt
		}
	}
	if a.OperationPhase == "Failed" || a.OperationPhase == "Error" {
		o.Deployments = append(o.Deployments, DeploymentEvent{ID: "failed:" + a.Revision, Revision: a.Revision, DeployedAt: now})
	}
	o.ObservedAt, o.LastSyncAt = now, lastSync
	return o
}
