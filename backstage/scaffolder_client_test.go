package backstage

import (
	"testing"
	"time"
)

func TestDecodeTask(t *testing.T) {
	raw := `{"id":"t1","status":"completed","createdAt":"2026-11-02T10:00:00.000+00:00","lastHeartbeatAt":"2026-11-02 10:01:30",
		"createdBy":"user:default/jane","spec":{"parameters":{"owner":"team-a"},"user":{"ref":"user:default/jane"},
		"templateInfo":{"entityRef":"template:default/service","entity":{"metadata":{"annotations":{"backstage.io/time-saved":"PT2H"}}}}}}`
	task, err := DecodeTask([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if task.ID != "t1" || task.TemplateRef != "template:default/service" || task.Owner != "group:default/team-a" ||
		task.CreatedBy != "user:default/jane" || task.TimeSaved != 2*time.Hour ||
		!task.CreatedAt.Equal(time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)) ||
		!task.HeartbeatAt.Equal(time.Date(2026, 11, 2, 10, 1, 30, 0, time.UTC)) {
		t.Errorf("DecodeTask = %+v", task)
	}
	for _, bad := range []string{`{}`, `{"id":"x","status":"open"}`, `{"id":"x","status":"open","createdAt":"soon"}`, `[`} {
		if _, err := DecodeTask([]byte(bad)); err == nil {
			t.Errorf("DecodeTask(%s) accepted", bad)
		}
	}
}

func FuzzDecodeTask(f *testing.F) {
	f.Add([]byte(`{"id":"t1","status":"open","createdAt":"2026-11-02T10:00:00Z","spec":{"parameters":{"owner":"x"},"templateInfo":{"entityRef":"template:default/a","entity":{"metadata":{"annotations":{"backstage.io/time-saved":"PT1H"}}}}}}`))
	f.Add([]byte(`{"id":"t1","status":"failed","createdAt":"2026-11-02 10:00:00","lastHeartbeatAt":null,"createdBy":null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		task, err := DecodeTask(raw)
		if err != nil {
			return
		}
		if task.ID == "" || task.Status == "" || task.CreatedAt.IsZero() || task.TemplateRef == "" || task.TimeSaved < 0 {
			t.Fatalf("DecodeTask accepted an incomplete task: %+v", task)
		}
	})
}
