package devex

import (
	"context"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/paved-dev/paved"
)

// Feedback is one developer's answer about one golden-path run: a score
// from 1 to 5 and, optionally, why. There is one answer per user per run;
// it can be changed for a while (FeedbackOptions.EditWindow) after it was
// first given.
type Feedback struct {
	TaskID      string    `json:"taskId"`
	UserRef     string    `json:"-"` // never shown to the platform team: answers are anonymous
	TemplateRef string    `json:"templateRef"`
	Owner       string    `json:"owner,omitempty"` // the team the run created something for
	Score       int       `json:"score"`
	Comment     string    `json:"comment"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// MaxFeedbackComment bounds a comment, in characters.
const MaxFeedbackComment = 2000

// RunFeedback is one of a user's runs with their answer, if any.
type RunFeedback struct {
	TaskID      string    `json:"taskId"`
	TemplateRef string    `json:"templateRef"`
	Owner       string    `json:"owner,omitempty"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"createdAt"`
	// Feedback is the user's answer, nil until given.
	Feedback *Feedback `json:"feedback"`
	// Editable says whether the user may answer (or change the answer) now;
	// EditableUntil is when that ends, once answered.
	Editable      bool       `json:"editable"`
	EditableUntil *time.Time `json:"editableUntil,omitempty"`
}

// FeedbackStore is what feedback needs of the store.
type FeedbackStore interface {
	GetRun(ctx context.Context, taskID string) (Run, error)
	GetFeedback(ctx context.Context, taskID, userRef string) (Feedback, error)
	// PutFeedback stores fb as the user's answer: a new one, or a change of
	// one first given at or after editableSince (else EConflict), in one
	// statement. It returns the stored answer and whether it is new.
	PutFeedback(ctx context.Context, fb Feedback, editableSince time.Time) (Feedback, bool, error)
	UserRuns(ctx context.Context, userRef string, since time.Time) ([]RunFeedback, error)
}

// TaskReader reads one scaffolder task from Backstage, for a run the
// collector has not stored yet (the developer clicked the template's
// feedback link right after the run).
type TaskReader interface {
	GetTask(ctx context.Context, id string) (Task, error)
}

// FeedbackOptions configure Feedbacks.
type FeedbackOptions struct {
	Store FeedbackStore
	Tasks TaskReader // nil: only runs already collected can be rated
	// EditWindow is how long after the first answer it may be changed
	// (default 7 days).
	EditWindow time.Duration
	// RecentRuns is how far back a user's runs are offered for an answer
	// (default 14 days).
	RecentRuns time.Duration
	Now        func() time.Time
}

// Feedbacks takes developers' answers about their runs. A user may only
// answer about a run they started: the decision is here, because it depends
// on the run, not on the route.
type Feedbacks struct {
	o FeedbackOptions
}

// NewFeedbacks returns Feedbacks with o's defaults filled in.
func NewFeedbacks(o FeedbackOptions) *Feedbacks {
	if o.EditWindow <= 0 {
		o.EditWindow = 7 * 24 * time.Hour
	}
	if o.RecentRuns <= 0 {
		o.RecentRuns = 14 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Feedbacks{o: o}
}

// run returns the run of taskID, from the store or else from Backstage, if
// userRef started it. A run the collector stored while it ran takes its
// status from Backstage: the developer follows the template's rating link
// as the run completes, before the next collection sees it.
func (s *Feedbacks) run(ctx context.Context, taskID, userRef string) (Run, error) {
	if userRef == "" {
		return Run{}, paved.Errorf(paved.EForbidden, "feedback is given by the user who ran the template; this token names no user")
	}
	r, err := s.o.Store.GetRun(ctx, taskID)
	if err == nil && !Final(r.Status) && s.o.Tasks != nil {
		// Backstage unreachable: the stored status stands (the answer then
		// waits for the run to be seen finished, as before).
		if t, terr := s.o.Tasks.GetTask(ctx, taskID); terr == nil && t.ID == r.TaskID {
			r.Status = t.Status
		}
	}
	if paved.ErrorCode(err) == paved.ENotFound && s.o.Tasks != nil {
		t, terr := s.o.Tasks.GetTask(ctx, taskID)
		if terr != nil {
			if paved.ErrorCode(terr) == paved.ENotFound {
				return Run{}, paved.Errorf(paved.ENotFound, "run %q not found", taskID)
			}
			return Run{}, paved.Wrap(paved.EUnavailable, terr, "cannot read run %q from Backstage's scaffolder", taskID)
		}
		r, err = Run{TaskID: t.ID, TemplateRef: t.TemplateRef, Owner: t.Owner, UserRef: t.CreatedBy, Status: t.Status, CreatedAt: t.CreatedAt}, nil
	}
	if err != nil {
		return Run{}, err
	}
	if r.UserRef == "" || !strings.EqualFold(r.UserRef, userRef) {
		// The same answer whether the run is someone else's or nobody's:
		// the id of another's run tells the caller nothing.
		return Run{}, paved.Errorf(paved.EForbidden, "%s did not start run %q: only the user who ran a template can rate the run", userRef, taskID)
	}
	return r, nil
}

// Get returns the user's run with their answer, if any.
func (s *Feedbacks) Get(ctx context.Context, taskID, userRef string) (RunFeedback, error) {
	r, err := s.run(ctx, taskID, userRef)
	if err != nil {
		return RunFeedback{}, err
	}
	out := RunFeedback{TaskID: r.TaskID, TemplateRef: r.TemplateRef, Owner: r.Owner, Status: r.Status, CreatedAt: r.CreatedAt}
	fb, err := s.o.Store.GetFeedback(ctx, taskID, r.UserRef)
	switch {
	case err == nil:
		out.Feedback = &fb
	case paved.ErrorCode(err) != paved.ENotFound:
		return RunFeedback{}, err
	}
	s.editable(&out)
	return out, nil
}

func (s *Feedbacks) editable(rf *RunFeedback) {
	if !Final(rf.Status) {
		return
	}
	if rf.Feedback == nil {
		rf.Editable = true
		return
	}
	until := rf.Feedback.CreatedAt.Add(s.o.EditWindow)
	rf.EditableUntil = &until
	rf.Editable = s.o.Now().Before(until)
}

// Recent returns the user's finished runs of the last RecentRuns, newest
// first, with their answers: what the page prompts for.
func (s *Feedbacks) Recent(ctx context.Context, userRef string) ([]RunFeedback, error) {
	if userRef == "" {
		return nil, paved.Errorf(paved.EForbidden, "feedback is given by the user who ran the template; this token names no user")
	}
	runs, err := s.o.Store.UserRuns(ctx, userRef, s.o.Now().Add(-s.o.RecentRuns))
	if err != nil {
		return nil, err
	}
	for i := range runs {
		s.editable(&runs[i])
	}
	if runs == nil {
		runs = []RunFeedback{}
	}
	return runs, nil
}

// FeedbackInput is what a user sends.
type FeedbackInput struct {
	Score   *int    `json:"score"`
	Comment *string `json:"comment"`
}

// Validate returns every bad field at once.
func (in FeedbackInput) Validate() error {
	var bad []paved.FieldError
	switch {
	case in.Score == nil:
		bad = append(bad, paved.FieldError{Field: "score", Message: "is required: an integer from 1 to 5"})
	case *in.Score < 1 || *in.Score > 5:
		bad = append(bad, paved.FieldError{Field: "score", Message: "must be an integer from 1 to 5"})
	}
	if in.Comment != nil {
		c := *in.Comment
		switch {
		case !utf8.ValidString(c):
			bad = append(bad, paved.FieldError{Field: "comment", Message: "must be valid UTF-8"})
		case utf8.RuneCountInString(c) > MaxFeedbackComment:
			bad = append(bad, paved.FieldError{Field: "comment", Message: "must be at most 2000 characters"})
		case strings.ContainsFunc(c, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' }):
			bad = append(bad, paved.FieldError{Field: "comment", Message: "must not contain control characters other than line breaks and tabs"})
		}
	}
	if len(bad) > 0 {
		return paved.InvalidFields(bad...)
	}
	return nil
}

// Put stores the user's answer about their run: the first one, or a change
// while it is editable. It reports whether the answer is new.
func (s *Feedbacks) Put(ctx context.Context, taskID, userRef string, in FeedbackInput) (RunFeedback, bool, error) {
	if err := in.Validate(); err != nil {
		return RunFeedback{}, false, err
	}
	r, err := s.run(ctx, taskID, userRef)
	if err != nil {
		return RunFeedback{}, false, err
	}
	if !Final(r.Status) {
		return RunFeedback{}, false, paved.Errorf(paved.EConflict, "run %q has not finished yet (%s): rate it once it has", taskID, r.Status)
	}
	now := s.o.Now().UTC().Truncate(time.Microsecond)
	fb := Feedback{TaskID: r.TaskID, UserRef: r.UserRef, TemplateRef: r.TemplateRef, Owner: r.Owner, Score: *in.Score,
		CreatedAt: now, UpdatedAt: now}
	if in.Comment != nil {
		fb.Comment = strings.TrimSpace(*in.Comment)
	}
	stored, created, err := s.o.Store.PutFeedback(ctx, fb, now.Add(-s.o.EditWindow))
	if paved.ErrorCode(err) == paved.EConflict {
		return RunFeedback{}, false, s.closed(ctx, fb, err)
	}
	if err != nil {
		return RunFeedback{}, false, err
	}
	out := RunFeedback{TaskID: r.TaskID, TemplateRef: r.TemplateRef, Owner: r.Owner, Status: r.Status, CreatedAt: r.CreatedAt, Feedback: &stored}
	s.editable(&out)
	return out, created, nil
}

// closed is the error of a change refused because the answer's edit window
// has passed (err, the store's): it says when the answer was given and
// until when it could be changed, so the developer knows why.
func (s *Feedbacks) closed(ctx context.Context, fb Feedback, err error) error {
	prev, gerr := s.o.Store.GetFeedback(ctx, fb.TaskID, fb.UserRef)
	if gerr != nil {
		return err
	}
	return paved.Errorf(paved.EConflict, "your answer on run %q can no longer be changed: it was given on %s and could be changed until %s (answers are editable for %s)",
		fb.TaskID, prev.CreatedAt.UTC().Format(time.RFC3339), prev.CreatedAt.Add(s.o.EditWindow).UTC().Format(time.RFC3339), s.o.EditWindow)
}

// Satisfaction queries.

// ScoreCounts counts answers by score: Counts[0] is the number of 1s.
type ScoreCounts struct {
	Counts [5]int64
}

// Responses is the number of answers.
func (c ScoreCounts) Responses() int64 {
	var n int64
	for _, v := range c.Counts {
		n += v
	}
	return n
}

// Mean is the average score, 0 without answers.
func (c ScoreCounts) Mean() float64 {
	n := c.Responses()
	if n == 0 {
		return 0
	}
	var sum int64
	for i, v := range c.Counts {
		sum += int64(i+1) * v
	}
	return round(float64(sum) / float64(n))
}

// Add adds o to c.
func (c *ScoreCounts) Add(o ScoreCounts) {
	for i := range c.Counts {
		c.Counts[i] += o.Counts[i]
	}
}

// TemplateScores are one template's answers.
type TemplateScores struct {
	TemplateRef string
	ScoreCounts
}

// DayScores are the answers of one day (or of the period starting on it).
type DayScores struct {
	Day string
	ScoreCounts
}

// StageScores are the answers about runs that got as far as one stage of
// the funnel and no further.
type StageScores struct {
	Stage string
	ScoreCounts
}

// SatisfactionStore is what the satisfaction queries read.
type SatisfactionStore interface {
	ScoresByTemplate(ctx context.Context, f Filter) ([]TemplateScores, error)
	// ScoresByPeriod counts answers per period no longer than grouping's
	// (DayScores.Day is the period's first day).
	ScoresByPeriod(ctx context.Context, f Filter, grouping string) ([]DayScores, error)
	ScoresByStage(ctx context.Context, f Filter) ([]StageScores, error)
	FeedbackComments(ctx context.Context, f Filter, limit int) ([]Feedback, error)
}

// Scores are the figures of a set of answers.
type Scores struct {
	Score         float64  `json:"score"`
	Responses     int64    `json:"responses"`
	Distribution  [5]int64 `json:"distribution"` // answers scoring 1, 2, 3, 4, 5
	PreviousScore float64  `json:"previousScore"`
	PreviousCount int64    `json:"previousResponses"`
}

func scores(cur, prev ScoreCounts) Scores {
	return Scores{Score: cur.Mean(), Responses: cur.Responses(), Distribution: cur.Counts,
		PreviousScore: prev.Mean(), PreviousCount: prev.Responses()}
}

// TemplateSatisfaction is one row of the satisfaction per template.
type TemplateSatisfaction struct {
	TemplateRef string `json:"templateRef"`
	Scores
}

// SatisfactionPoint is one period of the satisfaction trend.
type SatisfactionPoint struct {
	Period    string  `json:"period"`
	Score     float64 `json:"score"`
	Responses int64   `json:"responses"`
}

// StageSatisfaction is the satisfaction of runs that stopped at a stage.
type StageSatisfaction struct {
	Stage     string  `json:"stage"`
	Score     float64 `json:"score"`
	Responses int64   `json:"responses"`
}

// Satisfaction is GET devex/v1/satisfaction.
type Satisfaction struct {
	Overall Scores                 `json:"overall"`
	Items   []TemplateSatisfaction `json:"items"`
	Trend   []SatisfactionPoint    `json:"trend"`
	Stages  []StageSatisfaction    `json:"stages"`
	// WorstStage is the funnel stage whose runs scored lowest: where the
	// golden path hurts most. Empty without answers.
	WorstStage string `json:"worstStage"`
}

// Satisfaction returns the answers given in f's range: per template with
// the previous period's score, the trend by grouping, and per funnel stage.
func (s *Service) Satisfaction(ctx context.Context, f Filter, grouping string) (Satisfaction, error) {
	st := s.store
	// The four reads one after the other: asking for the scores per stage
	// at once was slower on SQLite (5 years: 95 ms instead of 60 ms on two
	// shared cores) and no faster on PostgreSQL.
	cur, err := st.ScoresByTemplate(ctx, f)
	if err != nil {
		return Satisfaction{}, err
	}
	prev, err := st.ScoresByTemplate(ctx, f.Previous())
	if err != nil {
		return Satisfaction{}, err
	}
	days, err := st.ScoresByPeriod(ctx, f, grouping)
	if err != nil {
		return Satisfaction{}, err
	}
	stages, err := st.ScoresByStage(ctx, f)
	if err != nil {
		return Satisfaction{}, err
	}
	prevBy := map[string]ScoreCounts{}
	var all, allPrev ScoreCounts
	for _, p := range prev {
		prevBy[p.TemplateRef] = p.ScoreCounts
		allPrev.Add(p.ScoreCounts)
	}
	out := Satisfaction{Items: make([]TemplateSatisfaction, 0, len(cur)), Stages: []StageSatisfaction{}}
	for _, c := range cur {
		all.Add(c.ScoreCounts)
		out.Items = append(out.Items, TemplateSatisfaction{TemplateRef: c.TemplateRef, Scores: scores(c.ScoreCounts, prevBy[c.TemplateRef])})
	}
	out.Overall = scores(all, allPrev)

	index := map[string]int{}
	for p := PeriodStart(f.From, grouping); p.Before(f.To); p = nextPeriod(p, grouping) {
		index[Day(p)] = len(out.Trend)
		out.Trend = append(out.Trend, SatisfactionPoint{Period: Day(p)})
	}
	perPeriod := make([]ScoreCounts, len(out.Trend))
	for _, d := range days {
		t, err := time.Parse(time.DateOnly, d.Day)
		if err != nil {
			continue
		}
		if i, ok := index[Day(PeriodStart(t, grouping))]; ok {
			perPeriod[i].Add(d.ScoreCounts)
		}
	}
	for i := range out.Trend {
		out.Trend[i].Score, out.Trend[i].Responses = perPeriod[i].Mean(), perPeriod[i].Responses()
	}
	if out.Trend == nil {
		out.Trend = []SatisfactionPoint{}
	}

	worst := 0.0
	for _, name := range FunnelStages {
		for _, sc := range stages {
			if sc.Stage != name || sc.Responses() == 0 {
				continue
			}
			out.Stages = append(out.Stages, StageSatisfaction{Stage: name, Score: sc.Mean(), Responses: sc.Responses()})
			if out.WorstStage == "" || sc.Mean() < worst {
				out.WorstStage, worst = name, sc.Mean()
			}
		}
	}
	return out, nil
}

// FunnelStages are the stages of the funnel in order; a run "stopped at"
// started when it did not succeed.
var FunnelStages = []string{"started", "succeeded", "registered", "healthy"}

// FeedbackComments returns the latest answers with a comment in f's range,
// newest first, at most limit.
func (s *Service) FeedbackComments(ctx context.Context, f Filter, limit int) ([]Feedback, error) {
	out, err := s.store.FeedbackComments(ctx, f, limit)
	if out == nil {
		out = []Feedback{}
	}
	return out, err
}

// SatisfactionTable returns the per-template rows for CSV, with a header.
func SatisfactionTable(s Satisfaction) [][]string {
	out := [][]string{{"templateRef", "score", "responses", "score1", "score2", "score3", "score4", "score5", "previousScore", "previousResponses"}}
	for _, t := range s.Items {
		row := []string{t.TemplateRef, ftoa(t.Score), itoa(t.Responses)}
		for _, n := range t.Distribution {
			row = append(row, itoa(n))
		}
		out = append(out, append(row, ftoa(t.PreviousScore), itoa(t.PreviousCount)))
	}
	return out
}

// CommentsTable returns the comments for CSV, with a header.
func CommentsTable(items []Feedback) [][]string {
	out := [][]string{{"updatedAt", "templateRef", "owner", "score", "comment"}}
	for _, f := range items {
		out = append(out, []string{f.UpdatedAt.UTC().Format(time.RFC3339), f.TemplateRef, f.Owner, itoa(int64(f.Score)), f.Comment})
	}
	return out
}
