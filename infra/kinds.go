package infra

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// LoadKinds reads every *.yaml and *.yml file of dir as one kind and checks
// each against its driver. Kinds whose driver is not configured (no
// PostgreSQL server for the postgres driver) are skipped and listed in
// skipped; every other problem is returned at once.
func LoadKinds(dir string, drivers map[string]Driver) (kinds []Kind, skipped []string, err error) {
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return nil, nil, err
		}
		files = append(files, m...)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, nil, fmt.Errorf("infra kinds: %w", err)
	}
	sort.Strings(files)
	var problems []string
	seen := map[string]string{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, err
		}
		var head struct {
			Name   string `yaml:"name"`
			Driver string `yaml:"driver"`
		}
		if yaml.Unmarshal(raw, &head) == nil && head.Driver != "" && drivers[head.Driver] == nil {
			skipped = append(skipped, fmt.Sprintf("%s (driver %s is not configured)", head.Name, head.Driver))
			continue
		}
		k, err := ParseKind(raw, drivers)
		if err != nil {
			problems = append(problems, filepath.Base(f)+": "+err.Error())
			continue
		}
		if prev, dup := seen[k.Name]; dup {
			problems = append(problems, fmt.Sprintf("%s: kind %q is also defined in %s", filepath.Base(f), k.Name, prev))
			continue
		}
		seen[k.Name] = filepath.Base(f)
		k.File = f
		kinds = append(kinds, k)
	}
	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("infra kinds in %s:\n  - %s", dir, strings.Join(problems, "\n  - "))
	}
	return kinds, skipped, nil
}

// ParseKind decodes and checks one kind.
func ParseKind(raw []byte, drivers map[string]Driver) (Kind, error) {
	var k Kind
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&k); err != nil && !errors.Is(err, io.EOF) {
		return Kind{}, err
	}
	var bad []string
	if !kindNameRE.MatchString(k.Name) {
		bad = append(bad, fmt.Sprintf("name must match %s, got %q", KindNamePattern, k.Name))
	}
	if strings.TrimSpace(k.Title) == "" {
		bad = append(bad, "title is required")
	}
	if k.Owner == "" {
		bad = append(bad, "owner is required (the team that maintains this golden path)")
	}
	if k.Type == "" {
		k.Type = "infrastructure"
	}
	if k.Parameters == nil {
		k.Parameters = map[string]any{"type": "object", "properties": map[string]any{}}
	}
	if t, _ := k.Parameters["type"].(string); t != "object" {
		bad = append(bad, "parameters must be a JSON Schema of type object")
	}
	// Parameters a kind does not declare never reach a template.
	if _, set := k.Parameters["additionalProperties"]; !set {
		k.Parameters["additionalProperties"] = false
	}
	if err := jsonSafe(&k.Parameters); err != nil {
		bad = append(bad, "parameters: "+err.Error())
	} else if _, err := compileSchema(k.Name, k.Parameters); err != nil {
		bad = append(bad, "parameters: "+err.Error())
	}
	d, ok := drivers[k.Driver]
	switch {
	case k.Driver == "":
		bad = append(bad, "driver is required")
	case !ok:
		names := make([]string, 0, len(drivers))
		for n := range drivers {
			names = append(names, n)
		}
		sort.Strings(names)
		bad = append(bad, fmt.Sprintf("driver %q is not configured (configured: %s)", k.Driver, strings.Join(names, ", ")))
	default:
		if err := d.Check(k); err != nil {
			bad = append(bad, "template: "+err.Error())
			break
		}
		sh, ok := d.(ParameterShaper)
		if !ok || len(bad) > 0 {
			break
		}
		params, err := sh.ShapeParameters(k)
		if err == nil {
			err = jsonSafe(&params)
		}
		if err == nil {
			_, err = compileSchema(k.Name, params)
		}
		if err != nil {
			bad = append(bad, "parameters: "+err.Error())
			break
		}
		k.Parameters = params
	}
	if k.Price != nil && len(bad) == 0 {
		if pb := k.Price.check(k.Parameters); len(pb) > 0 {
			bad = append(bad, pb...)
		} else {
			k.Parameters = priceSchema(k.Parameters, k.Price)
		}
	}
	if len(bad) > 0 {
		return Kind{}, errors.New(strings.Join(bad, "; "))
	}
	return k, nil
}

// jsonSafe turns what YAML decoded into plain JSON values (through a JSON
// round trip), which the schema compiler and the action list need.
func jsonSafe(v *map[string]any) error {
	raw, err := json.Marshal(*v)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}
