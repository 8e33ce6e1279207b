package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/devex"
	"github.com/paved-dev/paved/sqlstore"
)

func feedbackOf(run devex.Run, score int, comment string, at time.Time) devex.Feedback {
	return devex.Feedback{TaskID: run.TaskID, UserRef: run.UserRef, TemplateRef: run.TemplateRef, Owner: run.Owner,
		Score: score, Comment: comment, CreatedAt: at, UpdatedAt: at}
}

// testDevexFeedback: one answer per user per run, changed only inside the
// edit window, and the satisfaction queries over it.
func testDevexFeedback(t *testing.T, db *sqlstore.DB) {
	ctx := t.Context()
	tpl, other := "template:default/service", "template:default/db"
	failed := devexRun("task-f", tpl, "user:default/jane", devex.TaskFailed, devexDay, time.Minute)
	ok := devexRun("task-ok", tpl, "user:default/jane", devex.TaskCompleted, devexDay.Add(time.Hour), time.Minute)
	db2 := devexRun("task-db", other, "user:default/joe", devex.TaskCompleted, devexDay.Add(2*time.Hour), time.Minute)
	open := devexRun("task-open", tpl, "user:default/jane", devex.TaskProcessing, devexDay.Add(3*time.Hour), 0)
	upsertRuns(t, db, failed, ok, db2, open)

	if _, err := db.GetFeedback(ctx, "task-f", "user:default/jane"); paved.ErrorCode(err) != paved.ENotFound {
		t.Fatalf("GetFeedback before any answer: %v, want ENotFound", err)
	}
	at := devexDay.Add(4 * time.Hour)
	fb, created, err := db.PutFeedback(ctx, feedbackOf(failed, 1, "the database step timed out", at), at.Add(-time.Hour))
	if err != nil || !created || fb.Score != 1 || !fb.CreatedAt.Equal(at.Truncate(time.Microsecond)) {
		t.Fatalf("first answer: %+v created=%v, %v", fb, created, err)
	}
	// Changed inside the window: same creation time, new score and comment.
	later := at.Add(30 * time.Minute)
	change := feedbackOf(failed, 2, "retried, it worked", later)
	fb, created, err = db.PutFeedback(ctx, change, later.Add(-time.Hour))
	if err != nil || created || fb.Score != 2 || fb.Comment != "retried, it worked" || !fb.CreatedAt.Equal(at.Truncate(time.Microsecond)) || !fb.UpdatedAt.After(fb.CreatedAt) {
		t.Fatalf("change inside the window: %+v created=%v, %v", fb, created, err)
	}
	// Outside the window: a conflict, the answer unchanged.
	late := at.Add(48 * time.Hour)
	if _, _, err := db.PutFeedback(ctx, feedbackOf(failed, 5, "late", late), late.Add(-time.Hour)); paved.ErrorCode(err) != paved.EConflict {
		t.Fatalf("change after the window: %v, want EConflict", err)
	}
	if got, err := db.GetFeedback(ctx, "task-f", "user:default/jane"); err != nil || got.Score != 2 {
		t.Fatalf("after the refused change: %+v, %v; want score 2", got, err)
	}
	// Concurrent first answers about one run: one row, one created.
	var wg sync.WaitGroup
	var mu sync.Mutex
	createdN := 0
	for i := range 8 {
		wg.Go(func() {
			_, c, err := db.PutFeedback(ctx, feedbackOf(ok, 4+i%2, "", at.Add(time.Duration(i)*time.Millisecond)), at.Add(-time.Hour))
			if err != nil {
				t.Errorf("concurrent answer: %v", err)
			}
			if c {
				mu.Lock()
				createdN++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if createdN != 1 {
		t.Errorf("concurrent first answers: %d reported created, want 1", createdN)
	}
	if _, _, err := db.PutFeedback(ctx, feedbackOf(db2, 5, "smooth", at), at.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.PutFeedback(ctx, devex.Feedback{TaskID: "x", UserRef: "u", TemplateRef: tpl, Score: 6, CreatedAt: at}, at); paved.ErrorCode(err) != paved.EInvalid {
		t.Errorf("score 6: %v, want EInvalid", err)
	}

	runs, err := db.UserRuns(ctx, "user:default/jane", devexDay.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].TaskID != "task-ok" || runs[1].TaskID != "task-f" || runs[1].Feedback == nil || runs[1].Feedback.Score != 2 {
		t.Errorf("UserRuns(jane) = %+v; want task-ok then task-f (score 2), not the open run", runs)
	}

	from := devexDay.Truncate(24 * time.Hour)
	f := devex.Filter{From: from, To: from.AddDate(0, 0, 1)}
	byTpl, err := db.ScoresByTemplate(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(byTpl) != 2 || byTpl[0].TemplateRef != other || byTpl[0].Counts != [5]int64{0, 0, 0, 0, 1} ||
		byTpl[1].TemplateRef != tpl || byTpl[1].Responses() != 2 || byTpl[1].Counts[1] != 1 {
		t.Errorf("ScoresByTemplate = %+v", byTpl)
	}
	if none, err := db.ScoresByTemplate(ctx, devex.Filter{From: f.To, To: f.To.AddDate(0, 0, 1)}); err != nil || len(none) != 0 {
		t.Errorf("ScoresByTemplate of the next day = %+v, %v", none, err)
	}
	if team, err := db.ScoresByTemplate(ctx, devex.Filter{From: f.From, To: f.To, Owner: "group:default/team-x"}); err != nil || len(team) != 0 {
		t.Errorf("ScoresByTemplate of another team = %+v, %v", team, err)
	}
	days, err := db.ScoresByPeriod(ctx, f, devex.GroupDay)
	if err != nil || len(days) != 1 || days[0].Day != devex.Day(devexDay) || days[0].Responses() != 3 {
		t.Errorf("ScoresByPeriod = %+v, %v", days, err)
	}
	stages, err := db.ScoresByStage(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	byStage := map[string]int64{}
	for _, s := range stages {
		byStage[s.Stage] = s.Responses()
	}
	if byStage["started"] != 1 || byStage["succeeded"] != 2 || len(byStage) != 2 {
		t.Errorf("ScoresByStage = %+v; want the failed run at started, the two others at succeeded", stages)
	}
	comments, err := db.FeedbackComments(ctx, f, 10)
	if err != nil || len(comments) != 2 || comments[0].Comment != "retried, it worked" || comments[1].Comment != "smooth" {
		t.Errorf("FeedbackComments = %+v, %v; want the latest change first, answers without comment left out", comments, err)
	}
	if one, err := db.FeedbackComments(ctx, f, 1); err != nil || len(one) != 1 {
		t.Errorf("FeedbackComments limit 1 = %+v, %v", one, err)
	}
	// Answers are kept with the rollups, not with the raw runs.
	if _, err := db.DeleteDevexBefore(ctx, devexDay.AddDate(0, 0, 10), devexDay.AddDate(0, 0, -1)); err != nil {
		t.Fatal(err)
	}
	if got, err := db.ScoresByTemplate(ctx, f); err != nil || len(got) != 2 {
		t.Errorf("after raw retention: %+v, %v; want the answers kept", got, err)
	}
	if _, err := db.DeleteDevexBefore(ctx, devexDay.AddDate(0, 0, 10), devexDay.AddDate(0, 0, 10)); err != nil {
		t.Fatal(err)
	}
	if got, err := db.ScoresByTemplate(ctx, f); err != nil || len(got) != 0 {
		t.Errorf("after rollup retention: %+v, %v; want none", got, err)
	}
}
