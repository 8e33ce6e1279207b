package scaffolder

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/approval"
	"github.com/paved-dev/paved/infra"
)

// Infra is what the infrastructure actions need from the infra service.
type Infra interface {
	Kinds() []infra.Kind
	Provision(ctx context.Context, req infra.Request) (infra.Resource, bool, error)
	Deprovision(ctx context.Context, id string) (infra.Resource, error)
	FindID(ctx context.Context, kind, name string) (string, error)
	Cost(r infra.Resource) (infra.Cost, bool)
}

var _ Infra = (*infra.Service)(nil)

// InfraActionsOptions configure the infrastructure actions.
type InfraActionsOptions struct {
	Infra Infra
	// ConnectionURL returns where the owner fetches a resource's connection details.
	ConnectionURL func(id string) string
	// Approvals sends the requests a rule names for approval; nil: none.
	Approvals Approvals
}

// Approvals holds back the requests that need an approver's yes.
type Approvals interface {
	Gate(ctx context.Context, req infra.Request) (approval.Pending, bool, error)
}

var _ Approvals = (*approval.Service)(nil)

type infraActions struct{ InfraActionsOptions }

// InfraActions returns the actions that list golden paths and provision and
// deprovision infrastructure from them.
func InfraActions(o InfraActionsOptions) []Action {
	if o.ConnectionURL == nil {
		o.ConnectionURL = func(string) string { return "" }
	}
	h := &infraActions{o}
	return []Action{h.listKinds(), h.provision(), h.deprovision()}
}

const ttlRE = `^([0-9]{1,5}(d|h|m))?$`

func (h *infraActions) kindNames() []string {
	var names []string
	for _, k := range h.Infra.Kinds() {
		names = append(names, k.Name)
	}
	return names
}

func (h *infraActions) listKinds() Action {
	return Action{
		Name:        "list-infra-kinds",
		Title:       "List infrastructure golden paths",
		Description: "Lists the infrastructure kinds paved can provision, with the JSON Schema of each kind's parameters, so a template can offer the choices.",
		Attributes:  Attributes{ReadOnly: true, Idempotent: true},
		Input:       object(Schema{"kind": pattern(str("Kind", "Only this kind."), infra.KindNamePattern, 63)}),
		Output: Schema{"type": "object", "required": []string{"kinds"}, "properties": Schema{
			"kinds": Schema{"type": "array", "items": Schema{"type": "object", "required": []string{"name", "title", "driver", "parameters"}, "properties": Schema{
				"name": Schema{"type": "string"}, "title": Schema{"type": "string"}, "description": Schema{"type": "string"},
				"owner": Schema{"type": "string"}, "driver": Schema{"type": "string"}, "parameters": Schema{"type": "object"},
				"price": Schema{"type": "object", "description": "What a resource costs per month: currency, monthly (base), options (price per value of an enum parameter), perUnit (price per unit of a number parameter). Absent when the kind is not priced."},
			}}},
		}},
		Examples: []Example{{
			Description: "List every golden path.",
			Example:     "steps:\n  - id: kinds\n    action: paved:list-infra-kinds",
			Input:       map[string]any{},
		}},
		Handler: func(ctx context.Context, in Input) (map[string]any, error) {
			var li struct {
				Kind string `json:"kind"`
			}
			if err := in.Decode(&li); err != nil {
				return nil, err
			}
			kinds := []any{}
			for _, k := range h.Infra.Kinds() {
				if li.Kind != "" && k.Name != li.Kind {
					continue
				}
				item := map[string]any{"name": k.Name, "title": k.Title, "description": k.Description,
					"owner": k.Owner, "driver": k.Driver, "parameters": k.Parameters}
				if k.Price != nil {
					item["price"] = k.Price
				}
				kinds = append(kinds, item)
			}
			return map[string]any{"kinds": kinds}, nil
		},
	}
}

func (h *infraActions) provision() Action {
	kind := pattern(str("Kind", "The golden path, as paved:list-infra-kinds lists them."), infra.KindNamePattern, 63)
	exampleKind := "postgresql"
	if names := h.kindNames(); len(names) > 0 {
		kind = withEnum(kind, names...)
		if !slices.Contains(names, exampleKind) {
			exampleKind = names[0]
		}
	}
	props := Schema{
		"kind":       kind,
		"name":       pattern(str("Name", "Name of the resource: lower-case letters, digits and '-', starting with a letter, at most 40 characters. For a database it is also the database and role name ('-' becomes '_')."), infra.NamePattern, 40),
		"owner":      pattern(str("Owner", "User or group that owns the resource and may read its connection details, e.g. group:default/payments. Defaults to the user running the template."), `^(user|group):([a-z0-9][-a-z0-9_.]*/)?[a-z0-9][-a-z0-9_.]*$`, 255),
		"parameters": Schema{"type": "object", "title": "Parameters", "description": "The kind's parameters, validated against its schema (see paved:list-infra-kinds)."},
		"ttl":        pattern(str("Time to live", "Tear the resource down after this long, e.g. 8h or 7d; empty keeps it."), ttlRE, 8),
		"entityRef":  pattern(str("Entity", "The Backstage entity that uses the resource, e.g. component:default/payments; empty for none."), `^$|`+entityRefRE, 255),
		"taskId":     pattern(str("Task id", "The scaffolder task id, for the audit log."), `^[A-Za-z0-9_-]+$`, 128),
	}
	return Action{
		Name:  "provision-infra",
		Title: "Provision infrastructure from a golden path",
		Description: "Provisions a resource of an infrastructure kind: manifests committed to the GitOps repository with the Argo CD Application that delivers them, " +
			"or a real PostgreSQL database and role. Asking again for the same resource returns it with created=false. Connection details are never in the output: " +
			"the owner fetches them from connectionUrl with a Backstage user token.",
		Attributes: Attributes{Idempotent: true},
		Input:      object(props, "kind", "name"),
		Output: Schema{"type": "object", "required": []string{"id", "kind", "name", "status", "entityRef", "created"}, "properties": Schema{
			"id":            Schema{"type": "string"},
			"kind":          Schema{"type": "string"},
			"name":          Schema{"type": "string"},
			"owner":         Schema{"type": "string"},
			"status":        Schema{"type": "string", "description": "ready, or pending-approval when a rule sends the request for approval: nothing is provisioned until an approver says yes (see approvalUrl)."},
			"entityRef":     Schema{"type": "string", "description": "The Resource entity paved's catalog provider publishes for it."},
			"connectionUrl": Schema{"type": "string", "description": "Where the owner fetches connection details (GET with a Backstage user token)."},
			"commit":        Schema{"type": "string"},
			"branch":        Schema{"type": "string"},
			"compareUrl":    Schema{"type": "string"},
			"expiresAt":     Schema{"type": "string"},
			"created":       Schema{"type": "boolean"},
			"details":       Schema{"type": "object", "description": "Non-secret facts about the resource (host, database, path in the repository)."},
			"cost": Schema{"type": "object", "description": "What the resource costs per month at its kind's price; absent when the kind is not priced.",
				"properties": Schema{"monthly": Schema{"type": "number"}, "currency": Schema{"type": "string"}, "text": Schema{"type": "string"}}},
			"approvalId":  pendingOutputs["approvalId"],
			"approvalUrl": pendingOutputs["approvalUrl"],
			"reason":      pendingOutputs["reason"],
		}},
		Examples: []Example{{
			Description: "A small PostgreSQL database in eu-west-1 owned by the team, torn down after a week.",
			Example: `steps:
  - id: db
    action: paved:provision-infra
    input:
      kind: postgresql
      name: ${{ parameters.name }}
      owner: ${{ parameters.owner }}
      parameters:
        size: ${{ parameters.size }}
        region: ${{ parameters.region }}
      ttl: 7d`,
			Input: map[string]any{"kind": exampleKind, "name": "orders", "owner": "group:default/payments",
				"parameters": map[string]any{"size": "small", "region": "eu-west-1"}, "ttl": "7d"},
		}},
		Handler: h.handleProvision,
		// The output holds no secret; the whole of it is worth keeping.
	}
}

func (h *infraActions) handleProvision(ctx context.Context, in Input) (map[string]any, error) {
	var pi struct {
		Kind       string         `json:"kind"`
		Name       string         `json:"name"`
		Owner      string         `json:"owner"`
		Parameters map[string]any `json:"parameters"`
		TTL        string         `json:"ttl"`
		EntityRef  string         `json:"entityRef"`
	}
	if err := in.Decode(&pi); err != nil {
		return nil, err
	}
	ttl, err := parseTTL(pi.TTL)
	if err != nil {
		return nil, err
	}
	req := infra.Request{Kind: pi.Kind, Name: pi.Name, Owner: pi.Owner, Parameters: pi.Parameters, TTL: ttl, EntityRef: pi.EntityRef}
	if h.Approvals != nil {
		p, pending, err := h.Approvals.Gate(ctx, req)
		if err != nil {
			return nil, err
		}
		if pending {
			return pendingOutput(p), nil
		}
	}
	r, created, err := h.Infra.Provision(ctx, req)
	if err != nil {
		return nil, err
	}
	out := map[string]any{
		"id": r.ID, "kind": r.Kind, "name": r.Name, "owner": r.Owner, "status": r.Status,
		"entityRef": "resource:default/" + r.Name, "commit": r.Commit, "branch": r.Branch, "compareUrl": r.CompareURL,
		"created": created, "details": r.Details,
	}
	if r.Details == nil {
		out["details"] = map[string]string{}
	}
	if len(r.Secret) > 0 {
		out["connectionUrl"] = h.ConnectionURL(r.ID)
	}
	if !r.ExpiresAt.IsZero() {
		out["expiresAt"] = r.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if c, ok := h.Infra.Cost(r); ok {
		out["cost"] = map[string]any{"monthly": c.Monthly, "currency": c.Currency, "text": c.String()}
	}
	return out, nil
}

// pendingOutputs describe what a step sent for approval outputs besides its
// status.
var pendingOutputs = Schema{
	"approvalId":  Schema{"type": "string", "description": "With status pending-approval: the request's id."},
	"approvalUrl": Schema{"type": "string", "description": "With status pending-approval: the request's page in Backstage, where approvers decide."},
	"reason":      Schema{"type": "string", "description": "With status pending-approval: the rule that asks for approval."},
}

// pendingOutput is the step's output for a request sent for approval: the
// step finishes at once, and the requester is notified of the decision.
func pendingOutput(p approval.Pending) map[string]any {
	r := p.Request
	return map[string]any{
		"id": "", "kind": r.Kind, "name": r.Name, "owner": r.Owner, "status": "pending-approval",
		"entityRef": "resource:default/" + r.Name, "created": false, "details": map[string]string{},
		"approvalId": r.ID, "approvalUrl": p.URL, "reason": r.Reason,
	}
}

func parseTTL(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, ok := infra.ParseLifetime(s)
	if !ok {
		return 0, paved.InvalidFields(paved.FieldError{Field: "ttl", Message: "must be a whole number of days, hours or minutes, e.g. 7d, 8h or 90m"})
	}
	return d, nil
}

func (h *infraActions) deprovision() Action {
	return Action{
		Name:  "deprovision-infra",
		Title: "Deprovision infrastructure",
		Description: "Removes a resource paved provisioned: its manifests and Application from the GitOps repository, or its database and role. " +
			"Only the owner (the owner user, or a member of the owner group) may do it. A resource that does not exist is reported with deprovisioned=false.",
		Attributes: Attributes{Destructive: true, Idempotent: true},
		Input: object(Schema{
			"id":     pattern(str("Resource id", "The id paved:provision-infra returned."), `^[0-9a-f-]{36}$`, 36),
			"kind":   pattern(str("Kind", "With name, instead of id."), infra.KindNamePattern, 63),
			"name":   pattern(str("Name", "With kind, instead of id."), infra.NamePattern, 40),
			"taskId": pattern(str("Task id", "The scaffolder task id, for the audit log."), `^[A-Za-z0-9_-]+$`, 128),
		}),
		Output: Schema{"type": "object", "required": []string{"deprovisioned"}, "properties": Schema{
			"id": Schema{"type": "string"}, "kind": Schema{"type": "string"}, "name": Schema{"type": "string"},
			"deprovisioned": Schema{"type": "boolean", "description": "False when there was nothing to remove."},
		}},
		Examples: []Example{{
			Description: "Tear down a database by kind and name.",
			Example:     "steps:\n  - id: teardown\n    action: paved:deprovision-infra\n    input:\n      kind: postgresql\n      name: orders",
			Input:       map[string]any{"kind": "postgresql", "name": "orders"},
		}},
		Handler: func(ctx context.Context, in Input) (map[string]any, error) {
			var di struct {
				ID     string `json:"id"`
				Kind   string `json:"kind"`
				Name   string `json:"name"`
				TaskID string `json:"taskId"`
			}
			if err := in.Decode(&di); err != nil {
				return nil, err
			}
			switch {
			case di.ID != "" && (di.Kind != "" || di.Name != ""):
				return nil, paved.InvalidFields(paved.FieldError{Field: "id", Message: "give either id or kind and name, not both"})
			case di.ID == "" && (di.Kind == "" || di.Name == ""):
				return nil, paved.InvalidFields(paved.FieldError{Field: "id", Message: "is required (or kind and name)"})
			}
			id := di.ID
			if id == "" {
				var err error
				if id, err = h.Infra.FindID(ctx, di.Kind, di.Name); paved.ErrorCode(err) == paved.ENotFound {
					return map[string]any{"kind": di.Kind, "name": di.Name, "deprovisioned": false}, nil
				} else if err != nil {
					return nil, err
				}
			}
			r, err := h.Infra.Deprovision(ctx, id)
			if paved.ErrorCode(err) == paved.ENotFound {
				return map[string]any{"id": id, "kind": di.Kind, "name": di.Name, "deprovisioned": false}, nil
			}
			if err != nil {
				return nil, err
			}
			return map[string]any{"id": r.ID, "kind": r.Kind, "name": r.Name, "deprovisioned": true}, nil
		},
	}
}

// InfraConnectionURL returns the link to a resource's connection details
// (GET /api/<pluginId>/infra/:id/connection) on paved's base URL.
func InfraConnectionURL(base, pluginID string) func(id string) string {
	base = strings.TrimRight(base, "/")
	return func(id string) string { return base + "/api/" + pluginID + "/infra/" + id + "/connection" }
}
