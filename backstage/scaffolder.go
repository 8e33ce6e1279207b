package backstage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/devex"
)

// serializedTask is the scaffolder's SerializedTask (plugin-scaffolder-node).
type serializedTask struct {
	ID   string `json:"id"`
	Spec struct {
		TemplateInfo struct {
			EntityRef string `json:"entityRef"`
			Entity    struct {
				Metadata struct {
					Annotations map[string]string `json:"annotations"`
					Etag        string            `json:"etag"`
				} `json:"metadata"`
			} `json:"entity"`
		} `json:"templateInfo"`
		Parameters map[string]any `json:"parameters"`
		User       struct {
			Ref string `json:"ref"`
		} `json:"user"`
	} `json:"spec"`
	Status          string  `json:"status"`
	CreatedAt       string  `json:"createdAt"`
	LastHeartbeatAt *string `json:"lastHeartbeatAt"`
	CreatedBy       *string `json:"createdBy"`
}

// DecodeTask turns one task of the scaffolder API into a devex.Task.
func DecodeTask(raw []byte) (devex.Task, error) {
	var st serializedTask
	if err := json.Unmarshal(raw, &st); err != nil {
		return devex.Task{}, err
	}
	return st.task()
}

func (st serializedTask) task() (devex.Task, error) {
	t := devex.Task{ID: st.ID, TemplateRef: st.Spec.TemplateInfo.EntityRef, Status: st.Status}
	if t.ID == "" || t.Status == "" {
		return devex.Task{}, errors.New("a task needs an id and a status")
	}
	if t.TemplateRef == "" {
		t.TemplateRef = "template:default/unknown"
	}
	created, err := parseBackstageTime(st.CreatedAt)
	if err != nil || created.IsZero() {
		return devex.Task{}, fmt.Errorf("task %s: createdAt %q is not a time", st.ID, st.CreatedAt)
	}
	t.CreatedAt = created
	if st.LastHeartbeatAt != nil {
		t.HeartbeatAt, _ = parseBackstageTime(*st.LastHeartbeatAt)
	}
	if st.CreatedBy != nil {
		t.CreatedBy = *st.CreatedBy
	}
	if t.CreatedBy == "" {
		t.CreatedBy = st.Spec.User.Ref
	}
	if owner, ok := st.Spec.Parameters["owner"].(string); ok {
		t.Owner = devex.GroupRef(owner)
	}
	meta := st.Spec.TemplateInfo.Entity.Metadata
	t.TemplateVersion = devex.TemplateVersionOf(meta.Annotations, meta.Etag)
	if v := meta.Annotations[devex.AnnotationTimeSaved]; v != "" {
		// A malformed annotation saves nothing rather than failing the task.
		t.TimeSaved, _ = devex.ParseISODuration(v)
	}
	return t, nil
}

// parseBackstageTime reads the ISO times Backstage writes ("…Z", "…+00:00")
// and the SQL form a few stores leak ("2026-11-01 10:00:00").
func parseBackstageTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time", s)
}

// ListTasks returns one page of scaffolder tasks, newest first.
func (c *ReadClient) ListTasks(ctx context.Context, limit, offset int) ([]devex.Task, error) {
	q := url.Values{"order": {"desc:created_at"}, "limit": {strconv.Itoa(limit)}, "offset": {strconv.Itoa(offset)}}
	var page struct {
		Tasks []json.RawMessage `json:"tasks"`
	}
	if err := c.scaffolder.get(ctx, "/v2/tasks", q, &page); err != nil {
		return nil, err
	}
	out := make([]devex.Task, 0, len(page.Tasks))
	for _, raw := range page.Tasks {
		t, err := DecodeTask(raw)
		if err != nil {
			return nil, paved.Wrap(paved.EUnavailable, err, "backstage scaffolder: a listed task is malformed")
		}
		out = append(out, t)
	}
	return out, nil
}

// GetTask returns one task; ENotFound when the scaffolder no longer has it.
func (c *ReadClient) GetTask(ctx context.Context, id string) (devex.Task, error) {
	var raw json.RawMessage
	if err := c.scaffolder.get(ctx, "/v2/tasks/"+url.PathEscape(id), nil, &raw); err != nil {
		return devex.Task{}, err
	}
	t, err := DecodeTask(raw)
	if err != nil {
		return devex.Task{}, paved.Wrap(paved.EUnavailable, err, "backstage scaffolder: task %s is malformed", id)
	}
	return t, nil
}

// TaskEvents returns the events of a task, oldest first.
func (c *ReadClient) TaskEvents(ctx context.Context, id string) ([]devex.TaskEvent, error) {
	var raw []struct {
		Type      string `json:"type"`
		CreatedAt string `json:"createdAt"`
		Body      struct {
			Output map[string]any `json:"output"`
		} `json:"body"`
	}
	if err := c.scaffolder.get(ctx, "/v2/tasks/"+url.PathEscape(id)+"/events", nil, &raw); err != nil {
		return nil, err
	}
	out := make([]devex.TaskEvent, 0, len(raw))
	for _, e := range raw {
		at, err := parseBackstageTime(e.CreatedAt)
		if err != nil {
			continue
		}
		ev := devex.TaskEvent{Type: e.Type, CreatedAt: at}
		if ref, ok := e.Body.Output["entityRef"].(string); ok {
			ev.EntityRef = ref
		}
		out = append(out, ev)
	}
	return out, nil
}
