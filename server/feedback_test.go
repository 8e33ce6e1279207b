package server_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/devex"
	"github.com/paved-dev/paved/permission"
	"github.com/paved-dev/paved/sqlstore/sqlite"
)

// TestFeedbackRoutes: a developer rates their own run (one answer, which
// they can change), never another's; bad answers are 400s naming the field;
// scores are for the devex readers, comments for the platform team.
func TestFeedbackRoutes(t *testing.T) {
	f := newDevexServer(t)
	jane := f.users.Mint(t, "user:default/jane")
	joe := f.users.Mint(t, "user:default/joe")
	carol := f.users.Mint(t, "user:default/carol") // platform team
	dave := f.users.Mint(t, "user:default/dave")
	// Runs Backstage has and paved has not collected yet.
	now := time.Now().UTC()
	f.bs.AddTask("fresh", "template:default/service", "user:default/jane", "group:default/team-a", "", now.Add(-time.Minute))
	f.bs.Claim("fresh", now.Add(-50*time.Second))
	f.bs.Finish("fresh", "completed", "", now.Add(-10*time.Second))
	f.bs.AddTask("running", "template:default/service", "user:default/jane", "group:default/team-a", "", now.Add(-time.Minute))
	f.bs.Claim("running", now.Add(-50*time.Second))

	const runs = "/api/paved/devex/v1/feedback/runs/"
	steps := []struct {
		name, method, path, token, body string
		status                          int
		errName, field                  string
	}{
		{"first answer", "PUT", runs + "t1", jane, `{"score": 4, "comment": "smooth, but the docs link was dead"}`, 201, "", ""},
		{"changed answer", "PUT", runs + "t1", jane, `{"score": 2, "comment": "=HYPERLINK(\"x\") the deploy broke later"}`, 200, "", ""},
		{"failed run", "PUT", runs + "t3", jane, `{"score": 1}`, 201, "", ""},
		{"another's run", "PUT", runs + "t1", joe, `{"score": 5}`, 403, "NotAllowedError", ""},
		{"another's run read", "GET", runs + "t1", joe, ``, 403, "NotAllowedError", ""},
		{"static token", "PUT", runs + "t2", testToken, `{"score": 5}`, 403, "NotAllowedError", ""},
		{"no token", "PUT", runs + "t2", "", `{"score": 5}`, 401, "AuthenticationError", ""},
		{"score out of range", "PUT", runs + "t2", joe, `{"score": 6}`, 400, "InputError", "score"},
		{"score not an integer", "PUT", runs + "t2", joe, `{"score": 4.5}`, 400, "InputError", "score"},
		{"score a string", "PUT", runs + "t2", joe, `{"score": "five"}`, 400, "InputError", "score"},
		{"score missing", "PUT", runs + "t2", joe, `{"comment": "hi"}`, 400, "InputError", "score"},
		{"comment not a string", "PUT", runs + "t2", joe, `{"score": 3, "comment": 7}`, 400, "InputError", "comment"},
		{"comment with NUL", "PUT", runs + "t2", joe, `{"score": 3, "comment": "a\u0000b"}`, 400, "InputError", "comment"},
		{"comment too long", "PUT", runs + "t2", joe, `{"score": 3, "comment": "` + strings.Repeat("é", 2001) + `"}`, 400, "InputError", "comment"},
		{"unknown field", "PUT", runs + "t2", joe, `{"score": 3, "stars": 3}`, 400, "InputError", "stars"},
		{"not an object", "PUT", runs + "t2", joe, `[1]`, 400, "InputError", ""},
		{"bad task id", "PUT", runs + "a.b", joe, `{"score": 3}`, 400, "InputError", "taskId"},
		{"unknown run", "PUT", runs + "nope", joe, `{"score": 3}`, 404, "NotFoundError", ""},
		{"run not collected yet", "PUT", runs + "fresh", jane, `{"score": 5}`, 201, "", ""},
		{"run not finished", "PUT", runs + "running", jane, `{"score": 5}`, 409, "ConflictError", ""},
		{"joe's own run", "PUT", runs + "t2", joe, `{"score": 3, "comment": ""}`, 201, "", ""},
		{"comments as the platform team", "GET", "/api/paved/devex/v1/feedback/comments", carol, ``, 200, "", ""},
		{"comments as an outsider", "GET", "/api/paved/devex/v1/feedback/comments", dave, ``, 403, "NotAllowedError", ""},
		{"comments bad limit", "GET", "/api/paved/devex/v1/feedback/comments?limit=0", carol, ``, 400, "InputError", "limit"},
		{"satisfaction as an outsider", "GET", "/api/paved/devex/v1/satisfaction", dave, ``, 403, "NotAllowedError", ""},
	}
	for _, s := range steps {
		r := f.do(t, s.method, s.path, s.token, s.body)
		if r.status != s.status || errorName(r) != s.errName {
			t.Errorf("%s: %d %s, want %d %s", s.name, r.status, r.raw, s.status, s.errName)
			continue
		}
		if s.field != "" && !strings.Contains(r.raw, `"field":"`+s.field+`"`) {
			t.Errorf("%s: %s does not name field %q", s.name, r.raw, s.field)
		}
	}

	// What jane sees: her answer, editable for a week.
	r := f.do(t, "GET", runs+"t1", jane, "")
	var one struct {
		TemplateRef string
		Editable    bool
		Feedback    struct {
			Score   int
			Comment string
		}
	}
	if err := json.Unmarshal([]byte(r.raw), &one); err != nil || r.status != 200 || one.Feedback.Score != 2 || !one.Editable || one.TemplateRef != "template:default/service" {
		t.Errorf("jane's answer: %d %s", r.status, r.raw)
	}
	r = f.do(t, "GET", "/api/paved/devex/v1/feedback/runs", jane, "")
	var mine struct {
		Items []struct {
			TaskID   string
			Feedback *struct{ Score int }
		}
	}
	if err := json.Unmarshal([]byte(r.raw), &mine); err != nil || r.status != 200 {
		t.Fatalf("jane's runs: %d %s", r.status, r.raw)
	}
	got := map[string]int{}
	for _, it := range mine.Items {
		got[it.TaskID] = -1
		if it.Feedback != nil {
			got[it.TaskID] = it.Feedback.Score
		}
	}
	if len(got) != 2 || got["t1"] != 2 || got["t3"] != 1 {
		t.Errorf("jane's recent runs = %v, want t1 (2) and t3 (1) only", got)
	}

	// Scores for the readers.
	r = f.do(t, "GET", "/api/paved/devex/v1/satisfaction", carol, "")
	var sat struct {
		Overall struct {
			Score        float64
			Responses    int64
			Distribution [5]int64
		}
		Items []struct {
			TemplateRef string
			Responses   int64
		}
		Stages []struct {
			Stage     string
			Responses int64
		}
		WorstStage string
	}
	if err := json.Unmarshal([]byte(r.raw), &sat); err != nil || r.status != 200 {
		t.Fatalf("satisfaction: %d %s", r.status, r.raw)
	}
	// t1: 2, t3: 1, t2: 3, fresh: 5 (its run is not collected: no stage).
	if sat.Overall.Responses != 4 || sat.Overall.Distribution != [5]int64{1, 1, 1, 0, 1} || sat.Overall.Score != 2.75 {
		t.Errorf("overall satisfaction = %+v", sat.Overall)
	}
	if sat.WorstStage != "started" {
		t.Errorf("worst stage = %q (stages %+v), want started (the failed run scored 1)", sat.WorstStage, sat.Stages)
	}
	csvR := f.do(t, "GET", "/api/paved/devex/v1/satisfaction?format=csv", carol, "")
	if csvR.status != 200 || !strings.HasPrefix(csvR.raw, "templateRef,score,responses,score1") || !strings.Contains(csvR.raw, "template:default/service,") {
		t.Errorf("satisfaction CSV: %d %q", csvR.status, csvR.raw)
	}

	// Comments for the platform team: no user, the formula defused in CSV.
	r = f.do(t, "GET", "/api/paved/devex/v1/feedback/comments", carol, "")
	if r.status != 200 || strings.Contains(r.raw, "jane") || !strings.Contains(r.raw, "the deploy broke later") {
		t.Errorf("comments: %d %s (want the comment, never the user)", r.status, r.raw)
	}
	csvR = f.do(t, "GET", "/api/paved/devex/v1/feedback/comments?format=csv", carol, "")
	if csvR.status != 200 || !strings.Contains(csvR.raw, `'=HYPERLINK`) {
		t.Errorf("comments CSV: %d %q (want the formula quoted)", csvR.status, csvR.raw)
	}

	// A week and a day later: jane's answer is closed, and she is told until
	// when it was open; it stays as it was.
	*f.feedbackLater = 8 * 24 * time.Hour
	r = f.do(t, "PUT", runs+"t1", jane, `{"score": 5}`)
	var refused struct {
		Error struct{ Name, Message string }
	}
	_ = json.Unmarshal([]byte(r.raw), &refused)
	var until time.Time
	if m := regexp.MustCompile(`could be changed until (\S+) `).FindStringSubmatch(refused.Error.Message); m != nil {
		until, _ = time.Parse(time.RFC3339, m[1])
	}
	if r.status != 409 || refused.Error.Name != "ConflictError" || !strings.Contains(refused.Error.Message, "can no longer be changed") ||
		until.Sub(time.Now().Add(7*24*time.Hour)).Abs() > time.Minute {
		t.Errorf("a change after the edit window: %d %s, want 409 ConflictError saying it was editable until a week after it was given", r.status, r.raw)
	}
	r = f.do(t, "GET", runs+"t1", jane, "")
	one.Editable = true
	if err := json.Unmarshal([]byte(r.raw), &one); err != nil || r.status != 200 || one.Feedback.Score != 2 || one.Editable {
		t.Errorf("jane's answer after the edit window: %d %s, want score 2, not editable", r.status, r.raw)
	}
}

// TestFeedbackGivePermission: rating one's runs is paved.devex.feedback.create,
// decided in routes.go by the policy: a line denying it refuses carol with a
// 403 naming it; the defaults let every other user rate.
func TestFeedbackGivePermission(t *testing.T) {
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "paved.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f := newHostileWith(t, store, []permission.PolicyRule{
		{Permission: permission.FeedbackGive.Name, Users: []string{"user:default/carol"}, Result: paved.DecisionDeny},
	})
	carol, dave := f.users.Mint(t, "user:default/carol"), f.users.Mint(t, "user:default/dave")
	for _, c := range []struct {
		name, method, path, token, body string
		status                          int
	}{
		{"carol's runs", "GET", "/api/paved/devex/v1/feedback/runs", carol, "", 403},
		{"carol's answer", "PUT", "/api/paved/devex/v1/feedback/runs/t1", carol, `{"score": 5}`, 403},
		{"dave's runs", "GET", "/api/paved/devex/v1/feedback/runs", dave, "", 200},
	} {
		r := fixture{handler: f.handler}.do(t, c.method, c.path, c.token, c.body)
		if r.status != c.status || (c.status == 403 && !strings.Contains(r.raw, "user:default/carol may not paved.devex.feedback.create")) {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.raw, c.status)
		}
	}
}

// TestFeedbackRunCollectedWhileRunning: the collector stored the run while
// it ran; the developer rates it as it completes, before the next
// collection: Backstage's status decides, not the stored one.
func TestFeedbackRunCollectedWhileRunning(t *testing.T) {
	f := newDevexServer(t)
	kim := f.users.Mint(t, "user:default/kim")
	now := time.Now().UTC()
	for _, id := range []string{"done-since", "still-running"} {
		f.bs.AddTask(id, "template:default/service", "user:default/kim", "group:default/team-a", "", now.Add(-time.Minute))
		f.bs.Claim(id, now.Add(-50*time.Second))
		if _, err := f.store.UpsertRuns(context.Background(), []devex.Run{{TaskID: id, TemplateRef: "template:default/service",
			Owner: "group:default/team-a", UserRef: "user:default/kim", Status: devex.TaskProcessing,
			CreatedAt: now.Add(-time.Minute), HeartbeatAt: now.Add(-40 * time.Second)}}); err != nil {
			t.Fatal(err)
		}
	}
	f.bs.Finish("done-since", "completed", "", now.Add(-10*time.Second))

	const runs = "/api/paved/devex/v1/feedback/runs/"
	if r := f.do(t, "PUT", runs+"done-since", kim, `{"score": 5}`); r.status != 201 {
		t.Errorf("rating a run Backstage has completed, stored while it ran: %d %s, want 201", r.status, r.raw)
	}
	r := f.do(t, "PUT", runs+"still-running", kim, `{"score": 5}`)
	if r.status != 409 || errorName(r) != "ConflictError" || !strings.Contains(r.raw, "has not finished yet (processing)") {
		t.Errorf("rating a run still running in Backstage: %d %s, want 409 not finished", r.status, r.raw)
	}
	// Another's run stays refused whatever Backstage says of it.
	joe := f.users.Mint(t, "user:default/joe")
	if r := f.do(t, "PUT", runs+"done-since", joe, `{"score": 1}`); r.status != 403 {
		t.Errorf("joe rates kim's run: %d %s, want 403", r.status, r.raw)
	}
}
