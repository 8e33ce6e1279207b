package permission

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/paved-dev/paved"
)

// OnBehalfOfTokens signs the token paved presents to a Backstage plugin on
// behalf of a user: a plugin token whose obo claim is the user's limited token.
type OnBehalfOfTokens interface {
	OnBehalfOfToken(ctx context.Context, audience, limitedUserToken string) (string, error)
}

// Backend asks Backstage's permission backend, POST
// <permission base URL>/authorize, with a token on behalf of the user, the
// call Backstage's ServerPermissionClient makes. Resource permissions are
// asked without a resourceRef, so conditional decisions come back and paved
// applies them itself (authorizeConditional).
type Backend struct {
	// BaseURL returns the permission plugin's base URL (discovery).
	BaseURL func() (string, error)
	Tokens  OnBehalfOfTokens
	Client  *http.Client
}

var _ Decider = (*Backend)(nil)

type authorizeItem struct {
	ID         string           `json:"id"`
	Permission paved.Permission `json:"permission"`
}

// Decide implements Decider.
func (b *Backend) Decide(ctx context.Context, u User, perms []paved.Permission) ([]paved.Decision, error) {
	if u.OnBehalfOf == "" {
		return nil, paved.Errorf(paved.EForbidden, "%s: the call carries no user token paved can present to Backstage's permission backend", u.Ref)
	}
	base, err := b.BaseURL()
	if err != nil {
		return nil, paved.Wrap(paved.EUnavailable, err, "Backstage's permission backend: no endpoint for plugin \"permission\"")
	}
	token, err := b.Tokens.OnBehalfOfToken(ctx, "permission", u.OnBehalfOf)
	if err != nil {
		return nil, err
	}
	items := make([]authorizeItem, len(perms))
	for i, p := range perms {
		items[i] = authorizeItem{ID: strconv.Itoa(i), Permission: p}
	}
	body, err := json.Marshal(map[string]any{"items": items})
	if err != nil {
		return nil, err
	}
	client := b.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/authorize", bytes.NewReader(body))
	if err != nil {
		return nil, paved.Wrap(paved.EUnavailable, err, "Backstage's permission backend at %s", base)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, paved.Wrap(paved.EUnavailable, err, "Backstage's permission backend at %s is unreachable", base)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, paved.Wrap(paved.EUnavailable, err, "reading the answer of Backstage's permission backend")
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Name, Message string } `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		return nil, paved.Errorf(paved.EUnavailable, "Backstage's permission backend at %s answered %d %s: %.300s", base, resp.StatusCode, e.Error.Name, e.Error.Message)
	}
	var out struct {
		Items []struct {
			ID string `json:"id"`
			paved.Decision
		} `json:"items"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, paved.Wrap(paved.EUnavailable, err, "Backstage's permission backend answered something that is not a decision list")
	}
	ds := make([]paved.Decision, len(perms))
	seen := make([]bool, len(perms))
	for _, it := range out.Items {
		i, err := strconv.Atoi(it.ID)
		if err != nil || i < 0 || i >= len(perms) {
			continue
		}
		ds[i], seen[i] = it.Decision, true
	}
	for i, ok := range seen {
		if !ok {
			return nil, paved.Errorf(paved.EUnavailable, "Backstage's permission backend gave no decision for %s", perms[i].Name)
		}
		if ds[i].Result == paved.DecisionConditional && ds[i].PluginID != "" && ds[i].ResourceType != perms[i].ResourceType {
			return nil, fmt.Errorf("permission policy answered conditions for resource type %q for %s", ds[i].ResourceType, perms[i].Name)
		}
	}
	return ds, nil
}
