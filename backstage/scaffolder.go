package backstage

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ScaffolderClient reads Backstage's scaffolder task API as the plugin
// paved, for the adoption numbers Backstage does not compute itself.
type ScaffolderClient struct {
	api pluginAPI
}

// NewScaffolderClient returns a client of the scaffolder plugin found
// through d. A nil client uses http.DefaultClient.
func NewScaffolderClient(d *Discovery, tokens TokenSource, client *http.Client) *ScaffolderClient {
	return &ScaffolderClient{api: newPluginAPI("scaffolder", d, tokens, client)}
}

// Task is a scaffolder task as the task API returns it.
type Task struct {
	ID              string          `json:"id"`
	Status          string          `json:"status"` // open | processing | completed | failed | cancelled
	CreatedAt       Timestamp       `json:"createdAt"`
	LastHeartbeatAt Timestamp       `json:"lastHeartbeatAt"`
	CreatedBy       string          `json:"createdBy"`
	Spec            json.RawMessage `json:"spec"`
}

// TemplateRef returns the ref of the template the task runs
// (spec.templateInfo.entityRef), or "".
func (t Task) TemplateRef() string {
	var spec struct {
		TemplateInfo struct {
			EntityRef string `json:"entityRef"`
		} `json:"templateInfo"`
	}
	if json.Unmarshal(t.Spec, &spec) != nil {
		return ""
	}
	return spec.TemplateInfo.EntityRef
}

// TaskFilter selects tasks; zero fields select everything.
type TaskFilter struct {
	Status    []string
	CreatedBy []string
	Limit     int // default 100
	Offset    int
}

// ListTasks returns one page of tasks, newest first, and the number of
// tasks matching the filter.
func (c *ScaffolderClient) ListTasks(ctx context.Context, f TaskFilter) ([]Task, int, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q := url.Values{
		"limit":  {strconv.Itoa(limit)},
		"offset": {strconv.Itoa(f.Offset)},
		"order":  {"desc:created_at"},
	}
	for _, s := range f.Status {
		q.Add("status", s)
	}
	for _, by := range f.CreatedBy {
		q.Add("createdBy", by)
	}
	var out struct {
		Tasks      []Task `json:"tasks"`
		TotalTasks int    `json:"totalTasks"`
	}
	if err := c.api.get(ctx, "/v2/tasks", q, &out); err != nil {
		return nil, 0, err
	}
	return out.Tasks, out.TotalTasks, nil
}

// GetTask returns one task; a missing one is ENotFound.
func (c *ScaffolderClient) GetTask(ctx context.Context, id string) (Task, error) {
	var t Task
	err := c.api.get(ctx, "/v2/tasks/"+url.PathEscape(id), nil, &t)
	return t, err
}

// Timestamp reads the times the scaffolder returns: RFC 3339 from
// PostgreSQL, "2006-01-02 15:04:05" (UTC) from SQLite, or null.
type Timestamp struct{ time.Time }

// UnmarshalJSON accepts both database formats.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == nil || *s == "" {
		t.Time = time.Time{}
		return nil
	}
	v := strings.TrimSpace(*s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05"} {
		if parsed, err := time.Parse(layout, v); err == nil {
			t.Time = parsed.UTC()
			return nil
		}
	}
	return &time.ParseError{Layout: time.RFC3339, Value: v, Message: ": not a scaffolder timestamp"}
}
