package permission

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/paved-dev/paved"
)

// Resources loads the resources of one type by their refs for
// apply-conditions; a ref that names nothing is missing from the answer.
type Resources interface {
	PermissionResources(ctx context.Context, refs []string) (map[string]*paved.Resource, error)
}

// Integration is what createPermissionIntegrationRouter serves on a plugin:
// the permissions and rules (metadata), and the application of conditional
// decisions to resources by their refs, for the permission backend.
type Integration struct {
	metadata  []byte
	resources map[string]Resources
}

// NewIntegration returns the integration of paved's fixed permissions, the
// given action permissions and paved's rules; resources loads each resource
// type for apply-conditions.
func NewIntegration(actionPerms []paved.Permission, resources map[string]Resources) (*Integration, error) {
	perms := append(Fixed(), actionPerms...)
	sortPermissions(perms)
	b, err := json.Marshal(map[string]any{"permissions": perms, "rules": Rules()})
	if err != nil {
		return nil, err
	}
	return &Integration{metadata: b, resources: resources}, nil
}

// Metadata is the body of GET /.well-known/backstage/permissions/metadata.
func (in *Integration) Metadata() []byte { return in.metadata }

type applyRequest struct {
	Items []struct {
		ID           string          `json:"id"`
		ResourceRef  json.RawMessage `json:"resourceRef"`
		ResourceType string          `json:"resourceType"`
		Conditions   *paved.Criteria `json:"conditions"`
	} `json:"items"`
}

// ApplyConditions answers POST /.well-known/backstage/permissions/apply-conditions:
// for each item, ALLOW or DENY (a list of them for a list of refs), as
// createPermissionIntegrationRouter does. A missing resource is DENY.
func (in *Integration) ApplyConditions(ctx context.Context, body []byte) (map[string]any, error) {
	var req applyRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, paved.Errorf(paved.EInvalid, "body must be {\"items\": [{\"id\", \"resourceRef\", \"resourceType\", \"conditions\"}]}: %v", err)
	}
	var bad []paved.FieldError
	refsOf := make([][]string, len(req.Items))
	byType := map[string][]string{}
	for i, it := range req.Items {
		f := fmt.Sprintf("items.%d.", i)
		if it.ID == "" {
			bad = append(bad, paved.FieldError{Field: f + "id", Message: "is required"})
		}
		if _, ok := in.resources[it.ResourceType]; !ok {
			bad = append(bad, paved.FieldError{Field: f + "resourceType", Message: fmt.Sprintf("unexpected resource type %.100q; paved's are %s and %s", it.ResourceType, paved.ResourceInfra, paved.ResourceArgoApp)})
		}
		if it.Conditions == nil {
			bad = append(bad, paved.FieldError{Field: f + "conditions", Message: "is required"})
		} else if err := checkCriteria(it.Conditions); err != nil {
			bad = append(bad, paved.FieldError{Field: f + "conditions", Message: err.Error()})
		}
		var one string
		var many []string
		switch {
		case json.Unmarshal(it.ResourceRef, &one) == nil && one != "":
			refsOf[i] = []string{one}
		case json.Unmarshal(it.ResourceRef, &many) == nil && len(many) > 0:
			refsOf[i] = many
		default:
			bad = append(bad, paved.FieldError{Field: f + "resourceRef", Message: "must be a string or a non-empty list of strings"})
		}
		byType[it.ResourceType] = append(byType[it.ResourceType], refsOf[i]...)
	}
	if len(bad) > 0 {
		return nil, paved.InvalidFields(bad...)
	}
	loaded := map[string]map[string]*paved.Resource{}
	for typ, refs := range byType {
		m, err := in.resources[typ].PermissionResources(ctx, refs)
		if err != nil {
			return nil, err
		}
		loaded[typ] = m
	}
	items := make([]map[string]any, len(req.Items))
	for i, it := range req.Items {
		results := make([]string, len(refsOf[i]))
		for j, ref := range refsOf[i] {
			ok, _, err := Evaluate(it.Conditions, loaded[it.ResourceType][ref])
			if err != nil {
				return nil, paved.InvalidFields(paved.FieldError{Field: fmt.Sprintf("items.%d.conditions", i), Message: err.Error()})
			}
			results[j] = paved.DecisionDeny
			if ok {
				results[j] = paved.DecisionAllow
			}
		}
		var result any = results
		if !strings.HasPrefix(strings.TrimSpace(string(it.ResourceRef)), "[") {
			result = results[0]
		}
		items[i] = map[string]any{"id": it.ID, "result": result}
	}
	return map[string]any{"items": items}, nil
}
