package postgresql

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/infra"
)

// Placement: which server a kind's resource goes to, from its template and
// region parameter, and which one it went to.

// spec is the template section of a postgres kind.
type spec struct {
	// Server pins the kind to one configured server; the region parameter
	// then picks nothing. Empty: by region when servers have regions, else
	// the server named "default".
	Server string `yaml:"server"`
	// ConnectionLimit maps a value of the size parameter to the role's
	// connection limit; sizes not listed are unlimited.
	ConnectionLimit map[string]int `yaml:"connectionLimit"`
}

func decodeSpec(k infra.Kind) (spec, error) {
	var s spec
	raw, err := yaml.Marshal(k.Template)
	if err != nil {
		return s, err
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return s, err
	}
	return s, nil
}

// regional reports whether the kind's region parameter picks its server.
func (d *Driver) regional(sp spec) bool { return sp.Server == "" && len(d.byRegion) > 0 }

// fixedServer is the server of a kind that is not regional.
func fixedServer(sp spec) string {
	if sp.Server == "" {
		return "default"
	}
	return sp.Server
}

// Check makes sure the kind can be placed: on its configured server, or by
// region.
func (d *Driver) Check(k infra.Kind) error {
	s, err := decodeSpec(k)
	if err != nil {
		return err
	}
	if !d.regional(s) {
		if _, ok := d.servers[fixedServer(s)]; !ok {
			return fmt.Errorf("server %q is not configured (infra.postgres), and no server has a region", fixedServer(s))
		}
	}
	for size, n := range s.ConnectionLimit {
		if n < -1 {
			return fmt.Errorf("connectionLimit.%s must be -1 or more", size)
		}
	}
	return nil
}

// ShapeParameters makes the region parameter of a regional kind an enum of
// the configured regions (required; a default kept only if configured), so
// templates and the schema check offer and accept real regions only.
func (d *Driver) ShapeParameters(k infra.Kind) (map[string]any, error) {
	s, err := decodeSpec(k)
	if err != nil {
		return nil, err
	}
	params := deepCopy(k.Parameters)
	if !d.regional(s) {
		return params, nil
	}
	props, _ := params["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
		params["properties"] = props
	}
	region, _ := props[RegionParameter].(map[string]any)
	if region == nil {
		region = map[string]any{"title": "Region"}
		props[RegionParameter] = region
	}
	region["type"] = "string"
	region["enum"] = d.Regions()
	delete(region, "pattern")
	if def, ok := region["default"].(string); ok && !slices.Contains(d.regions, def) {
		delete(region, "default")
	}
	required, _ := params["required"].([]any)
	if !slices.Contains(required, any(RegionParameter)) {
		params["required"] = append(required, RegionParameter)
	}
	return params, nil
}

func deepCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case map[string]any:
			out[k] = deepCopy(x)
		case []any:
			out[k] = slices.Clone(x)
		default:
			out[k] = v
		}
	}
	return out
}

// place returns the server a new resource goes to.
func (d *Driver) place(sp spec, params map[string]any) (Server, error) {
	if !d.regional(sp) {
		srv, ok := d.servers[fixedServer(sp)]
		if !ok {
			return Server{}, paved.Errorf(paved.EUnavailable, "PostgreSQL server %q is not configured", fixedServer(sp))
		}
		return srv, nil
	}
	region, _ := params[RegionParameter].(string)
	srv, ok := d.byRegion[region]
	if !ok {
		return Server{}, paved.InvalidFields(paved.FieldError{Field: "parameters." + RegionParameter,
			Message: fmt.Sprintf("no PostgreSQL server is configured for region %.64q (configured: %s)", region, strings.Join(d.regions, ", "))})
	}
	return srv, nil
}

// recorded returns the server a resource was provisioned on, as its details
// say. A server that is gone, or that now serves another region, is an
// error naming the region: the resource is never looked for elsewhere.
func (d *Driver) recorded(r infra.Resource) (Server, bool, error) {
	name, region := r.Details["server"], r.Details["region"]
	if name == "" {
		return Server{}, false, nil
	}
	where := fmt.Sprintf("PostgreSQL server %q", name)
	if region != "" {
		where = fmt.Sprintf("region %s (PostgreSQL server %q)", region, name)
	}
	srv, ok := d.servers[name]
	if !ok {
		return Server{}, true, paved.Errorf(paved.EUnavailable, "%s %q lives in %s, which is no longer configured (infra.postgres); nothing was changed", r.Kind, r.Name, where)
	}
	// A record without a region predates regions: its server may have been
	// given one since.
	if region != "" && srv.Region != region {
		return Server{}, true, paved.Errorf(paved.EUnavailable, "%s %q lives in %s, but that server is now configured for region %q; nothing was changed", r.Kind, r.Name, where, srv.Region)
	}
	return srv, true, nil
}
