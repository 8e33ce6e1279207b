package config

import (
	"fmt"
	"regexp"
	"time"
)

// Catalog configures the entities paved provides to Backstage's catalog: a
// Component per Argo CD application, a Resource per provisioned piece of
// infrastructure.
type Catalog struct {
	// Disabled turns the catalog routes and the refresh off.
	Disabled bool `yaml:"disabled"`
	// Interval between refreshes from Argo CD (one replica refreshes).
	Interval Duration `yaml:"interval"`
	// WatchDebounce is how long the events of Argo CD's watch stream gather
	// before the one refresh they cause.
	WatchDebounce Duration `yaml:"watchDebounce"`
	// Namespace is the Backstage namespace of the entities.
	Namespace string `yaml:"namespace"`
	// DefaultType, DefaultLifecycle and DefaultOwner fill what an
	// application's labels and annotations do not say.
	DefaultType      string `yaml:"defaultType"`
	DefaultLifecycle string `yaml:"defaultLifecycle"`
	DefaultOwner     string `yaml:"defaultOwner"`
	// TypeKeys, LifecycleKeys, OwnerKeys and SystemKeys are the label (then
	// annotation) keys read from each application, in order; empty keeps
	// paved's defaults (paved.dev/owner, backstage.io/owner, owner, team, …).
	TypeKeys      []string `yaml:"typeKeys"`
	LifecycleKeys []string `yaml:"lifecycleKeys"`
	OwnerKeys     []string `yaml:"ownerKeys"`
	SystemKeys    []string `yaml:"systemKeys"`
	// ProjectOwners maps an Argo CD project to the owner of its applications.
	ProjectOwners map[string]string `yaml:"projectOwners"`
	// Instances narrows what is read from each Argo CD instance; instances
	// not listed are read whole.
	Instances []CatalogInstance `yaml:"instances"`
	// PublicYAML serves catalog/entities.yaml without a token, so that a
	// Backstage with no paved module can read it as a `url` location.
	PublicYAML bool `yaml:"publicYaml"`
	// Retention is how many changes the change log keeps for the changes
	// endpoint; a client further behind gets a reset.
	Retention int64 `yaml:"retention"`
}

// CatalogInstance narrows the catalog to part of one Argo CD instance.
type CatalogInstance struct {
	Name string `yaml:"name"`
	// Skip leaves the instance out of the catalog.
	Skip bool `yaml:"skip"`
	// Selector is an Argo CD label selector ("team=a,tier!=test").
	Selector string `yaml:"selector"`
	// Projects keeps only applications of these Argo CD projects.
	Projects     []string `yaml:"projects"`
	Namespace    string   `yaml:"namespace"`
	DefaultOwner string   `yaml:"defaultOwner"`
	// Watch follows the instance's application watch stream, besides
	// polling it; unset is true. false suits an Argo CD behind a proxy that
	// cuts long-lived streams.
	Watch *bool `yaml:"watch"`
}

// Watches reports whether the catalog follows the instance's watch stream.
func (in CatalogInstance) Watches() bool { return in.Watch == nil || *in.Watch }

// DefaultCatalog is the catalog configuration paved starts with.
func DefaultCatalog() Catalog {
	return Catalog{
		Interval:         Duration(time.Minute),
		WatchDebounce:    Duration(time.Second),
		Namespace:        "default",
		DefaultType:      "service",
		DefaultLifecycle: "production",
		DefaultOwner:     "group:default/unknown",
		Retention:        50_000,
	}
}

var catalogNamespace = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

func (c Catalog) validate(p *problems, argo ArgoCD) {
	if c.Disabled {
		return
	}
	if c.Interval.D() < 5*time.Second {
		p.add("catalog.interval", "must be at least 5s")
	}
	if c.WatchDebounce.D() <= 0 || c.WatchDebounce > c.Interval {
		p.add("catalog.watchDebounce", "must be more than 0 and at most the interval")
	}
	if len(c.Namespace) > 63 || !catalogNamespace.MatchString(c.Namespace) {
		p.add("catalog.namespace", "must be a Backstage namespace (lower-case letters, digits and -), got %q", c.Namespace)
	}
	if c.DefaultType == "" || c.DefaultLifecycle == "" || c.DefaultOwner == "" {
		p.add("catalog", "defaultType, defaultLifecycle and defaultOwner must not be empty")
	}
	if c.Retention < 100 {
		p.add("catalog.retention", "must be at least 100")
	}
	known := map[string]bool{}
	for _, in := range argo.Instances {
		known[in.Name] = true
	}
	seen := map[string]bool{}
	for i, in := range c.Instances {
		f := fmt.Sprintf("catalog.instances[%d]", i)
		switch {
		case !known[in.Name]:
			p.add(f+".name", "%q is not one of argocd.instances", in.Name)
		case seen[in.Name]:
			p.add(f+".name", "%q is listed twice", in.Name)
		}
		seen[in.Name] = true
		if in.Namespace != "" && (len(in.Namespace) > 63 || !catalogNamespace.MatchString(in.Namespace)) {
			p.add(f+".namespace", "must be a Backstage namespace, got %q", in.Namespace)
		}
	}
}
