package catalog

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/paved-dev/paved"
)

// Options say how Argo CD applications and infrastructure become entities.
type Options struct {
	// Instances are the Argo CD instances to read, in the order that decides
	// collisions: of applications that map to the same entity name, the one
	// on the earlier instance keeps the plain name.
	Instances []Instance
	// Namespace is the Backstage namespace of the entities; default "default".
	Namespace string
	// DefaultType, DefaultLifecycle and DefaultOwner fill what an
	// application's labels and annotations do not say.
	DefaultType      string
	DefaultLifecycle string
	DefaultOwner     string
	// TypeKeys, LifecycleKeys, OwnerKeys and SystemKeys are looked up, in
	// order, among an application's labels and then its annotations.
	TypeKeys      []string
	LifecycleKeys []string
	OwnerKeys     []string
	SystemKeys    []string
	// ProjectOwners maps an Argo CD project to the owner of its applications
	// when they name none.
	ProjectOwners map[string]string
	// LocationURL is where the entities can be read (paved's entities.yaml);
	// it goes into the managed-by annotations.
	LocationURL string
}

// Instance is one Argo CD instance the catalog reads.
type Instance struct {
	Name string
	// Selector is an Argo CD label selector ("team=a,tier!=test"); "" is all.
	Selector string
	// Projects keeps only applications of these projects; empty is all.
	Projects []string
	// Namespace and DefaultOwner override the catalog-wide ones.
	Namespace    string
	DefaultOwner string
}

// WithDefaults returns o with every unset field at its default.
func (o Options) WithDefaults() Options {
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.DefaultType == "" {
		o.DefaultType = "service"
	}
	if o.DefaultLifecycle == "" {
		o.DefaultLifecycle = "production"
	}
	if o.DefaultOwner == "" {
		o.DefaultOwner = "group:default/unknown"
	}
	if o.TypeKeys == nil {
		o.TypeKeys = []string{paved.AnnotationComponentType, "backstage.io/component-type"}
	}
	if o.LifecycleKeys == nil {
		o.LifecycleKeys = []string{paved.AnnotationLifecycle, "backstage.io/lifecycle"}
	}
	if o.OwnerKeys == nil {
		o.OwnerKeys = []string{paved.AnnotationOwner, "backstage.io/owner", "owner", "team"}
	}
	if o.SystemKeys == nil {
		o.SystemKeys = []string{paved.AnnotationSystem, "backstage.io/system"}
	}
	return o
}

// Infra is one piece of infrastructure paved provisioned, as the catalog
// needs it.
type Infra struct {
	ID          string
	Name        string
	Type        string // "database", "bucket", … (Resource spec.type)
	Owner       string // an entity ref; "" is the catalog's default owner
	Status      string
	Description string
	// App is the Argo CD application that uses the resource, if any; its
	// Component gets dependsOn and the Resource dependencyOf.
	App paved.AppRef
	// CostMonthly is what it costs per month, "480 USD"; "" when not priced.
	CostMonthly string
	// EntityRef names the component that uses the resource when it is not
	// one of paved's (a template registered it), e.g. "component:default/shop".
	EntityRef string
}

// InfraLister lists the infrastructure paved provisioned.
type InfraLister interface {
	ListInfra(ctx context.Context) ([]Infra, error)
}

// InstanceApps are the applications listed from one instance.
type InstanceApps struct {
	Instance string
	Apps     []paved.App
}

// Skip is an application or resource that produced no entity, and why.
type Skip struct {
	Source string // "argocd/<instance>/<namespace>/<name>" or "infra/<id>"
	Reason string
}

// Built is what Build returns: the entities, ready to serve, and what it
// left out.
type Built struct {
	Items []Item
	Skips []Skip
	// Renamed lists sources whose entity name differs from their own name
	// (sanitized, shortened or de-duplicated), source → entity ref.
	Renamed map[string]string
}

// LocationKeyInfra is the location key of Resource entities; Components
// carry "paved:<instance>".
const LocationKeyInfra = "paved:infra"

// LocationKey is the location key of the Components of an instance.
func LocationKey(instance string) string { return "paved:" + instance }

// Build maps applications and infrastructure to entities. It never fails as
// a whole: data it cannot use becomes a Skip. taken holds refs that other
// entities of the snapshot already use (carried over from an instance that
// could not be listed); a new entity never takes them.
func Build(o Options, apps []InstanceApps, infra []Infra, taken map[string]bool) Built {
	o = o.WithDefaults()
	b := builder{o: o, out: Built{Renamed: map[string]string{}}, taken: map[string]bool{}, appRefs: map[appKey]string{},
		infraIDs: map[string]bool{}, infraApps: map[string]*paved.App{}, entityRefs: map[string]string{}}
	for _, r := range infra {
		if r.ID != "" {
			b.infraIDs[r.ID] = true
		}
	}
	for ref := range taken {
		b.taken[ref] = true
	}
	order := map[string]int{}
	for i, in := range o.Instances {
		order[in.Name] = i
	}
	apps = slices.Clone(apps)
	slices.SortStableFunc(apps, func(a, c InstanceApps) int {
		ia, oka := order[a.Instance]
		ic, okc := order[c.Instance]
		if oka != okc { // configured instances first
			if oka {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(ia, ic), cmp.Compare(a.Instance, c.Instance))
	})
	var comps []component
	for _, ia := range apps {
		in := b.instance(ia.Instance)
		list := slices.Clone(ia.Apps)
		slices.SortFunc(list, func(a, c paved.App) int {
			return cmp.Or(cmp.Compare(a.Namespace, c.Namespace), cmp.Compare(a.Name, c.Name))
		})
		for i := range list {
			if c, ok := b.component(in, &list[i]); ok {
				comps = append(comps, c)
			}
		}
	}
	resources := b.resources(infra)
	for _, c := range comps {
		c.entity.Spec.DependsOn = b.dependsOn[c.ref]
		b.add(c.ref, LocationKey(c.instance), &c.entity)
	}
	for _, r := range resources {
		b.add(r.ref, LocationKeyInfra, &r.entity)
	}
	slices.SortFunc(b.out.Items, func(a, c Item) int { return strings.Compare(a.Ref, c.Ref) })
	return b.out
}

type appKey struct{ instance, namespace, name string }

type component struct {
	ref      string
	instance string
	entity   Entity
}

type builder struct {
	o         Options
	out       Built
	taken     map[string]bool     // refs in use
	appRefs   map[appKey]string   // application → its component's ref
	dependsOn map[string][]string // component ref → resource refs
	scratch   []byte
	arena     []byte
	// infraIDs are the resources being built; infraApps the Argo CD
	// applications that deliver them, which become part of their Resource
	// rather than Components of their own.
	infraIDs  map[string]bool
	infraApps map[string]*paved.App
	// entityRefs maps the entity ref an application was created for
	// (paved.dev/entity-ref) to its Component.
	entityRefs map[string]string
}

func (b *builder) instance(name string) Instance {
	for _, in := range b.o.Instances {
		if in.Name == name {
			if in.Namespace == "" {
				in.Namespace = b.o.Namespace
			}
			return in
		}
	}
	return Instance{Name: name, Namespace: b.o.Namespace}
}

func (b *builder) skip(source, format string, args ...any) {
	b.out.Skips = append(b.out.Skips, Skip{Source: source, Reason: fmt.Sprintf(format, args...)})
}

// name picks the entity name for a source: its sanitized name when free,
// else that name with a hash of the source's identity.
func (b *builder) name(kind, namespace, source, raw string, identity ...string) (string, string, bool) {
	name, changed := SanitizeName(raw)
	ref := EntityRef(kind, namespace, name)
	if b.taken[ref] {
		name = withSuffix(name, shortHash(identity...))
		ref = EntityRef(kind, namespace, name)
		changed = true
		if b.taken[ref] {
			b.skip(source, "entity name %q is taken even with a hash suffix", name)
			return "", "", false
		}
	}
	b.taken[ref] = true
	if changed {
		b.out.Renamed[source] = ref
	}
	return name, ref, true
}

func (b *builder) component(in Instance, app *paved.App) (component, bool) {
	source := "argocd/" + in.Name + "/" + app.Namespace + "/" + app.Name
	key := appKey{in.Name, app.Namespace, app.Name}
	if _, dup := b.appRefs[key]; dup {
		b.skip(source, "listed twice by Argo CD")
		return component{}, false
	}
	if app.Name == "" {
		b.skip(source, "the application has no name")
		return component{}, false
	}
	if id := app.Labels[paved.LabelInfraID]; id != "" && b.infraIDs[id] && b.infraApps[id] == nil {
		b.infraApps[id] = app
		return component{}, false
	}
	name, ref, ok := b.name(KindComponent, in.Namespace, source, app.Name, in.Name, app.Namespace, app.Name)
	if !ok {
		return component{}, false
	}
	b.appRefs[key] = ref
	if r, err := parseRef(app.Annotations[paved.AnnotationEntityRef], "component", in.Namespace); err == nil {
		if _, dup := b.entityRefs[r]; !dup {
			b.entityRefs[r] = ref
		}
	}

	e := Entity{APIVersion: APIVersion, Kind: KindComponent}
	e.Metadata.Name = name
	e.Metadata.Namespace = in.Namespace
	e.Metadata.Title = app.Name
	e.Metadata.Description = "Argo CD application " + app.Name + " on " + in.Name
	if app.Project != "" {
		e.Metadata.Description += " (project " + app.Project + ")"
	}
	ann := make(map[string]string, 13)
	ann[AnnotationArgoAppName] = app.Name
	ann[AnnotationArgoInstance] = in.Name
	ann[AnnotationKubernetesID] = b.kubernetesID(app)
	if b.o.LocationURL != "" {
		ann[AnnotationManagedByLocation] = "url:" + b.o.LocationURL
		ann[AnnotationManagedByOriginLocation] = "url:" + b.o.LocationURL
	}
	setNonEmpty(ann, AnnotationArgoAppNamespace, app.Namespace)
	setNonEmpty(ann, AnnotationArgoProject, app.Project)
	setNonEmpty(ann, AnnotationKubernetesNamespace, app.Destination.Namespace)
	setNonEmpty(ann, AnnotationSyncStatus, app.SyncStatus)
	setNonEmpty(ann, AnnotationHealthStatus, app.HealthStatus)
	if t := app.Annotations[paved.AnnotationTemplate]; t != "" {
		if _, err := parseRef(t, "template", "default"); err == nil {
			ann[paved.AnnotationTemplate] = t
		} else {
			b.skip(source, "ignored annotation %s=%q: %v", paved.AnnotationTemplate, t, err)
		}
	}
	setNonEmpty(ann, paved.AnnotationEntityRef, app.Annotations[paved.AnnotationEntityRef])
	e.Metadata.Annotations = ann

	labels := map[string]string{}
	setNonEmpty(labels, LabelSyncStatus, labelValue(app.SyncStatus))
	setNonEmpty(labels, LabelHealthStatus, labelValue(app.HealthStatus))
	if len(labels) > 0 {
		e.Metadata.Labels = labels
	}
	e.Metadata.Tags = []string{"argocd"}
	if app.URL != "" {
		e.Metadata.Links = append(e.Metadata.Links, Link{URL: app.URL, Title: "Argo CD", Icon: "dashboard", Type: "argocd"})
	}
	if u, err := url.Parse(app.RepoURL); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
		icon := ""
		if strings.Contains(u.Host, "github") {
			icon = "github"
		}
		e.Metadata.Links = append(e.Metadata.Links, Link{URL: app.RepoURL, Title: "Source", Icon: icon, Type: "source"})
	}

	e.Spec.Type = b.lookup(app, b.o.TypeKeys, b.o.DefaultType)
	e.Spec.Lifecycle = b.lookup(app, b.o.LifecycleKeys, b.o.DefaultLifecycle)
	e.Spec.Owner = b.owner(source, in, app)
	if sys := b.lookup(app, b.o.SystemKeys, ""); sys != "" {
		if r, err := parseRef(sys, "system", in.Namespace); err == nil {
			e.Spec.System = r
		} else {
			b.skip(source, "ignored system %q: %v", sys, err)
		}
	}
	return component{ref: ref, instance: in.Name, entity: e}, true
}

// kubernetesID is what the Kubernetes plugin matches workloads by: the
// application's own backstage.io/kubernetes-id when it has one, else its
// name, which Argo CD puts on every resource as app.kubernetes.io/instance.
func (b *builder) kubernetesID(app *paved.App) string {
	if v := app.Labels[AnnotationKubernetesID]; v != "" {
		return v
	}
	if v := app.Annotations[AnnotationKubernetesID]; v != "" {
		return v
	}
	return app.Name
}

func (b *builder) lookup(app *paved.App, keys []string, def string) string {
	for _, k := range keys {
		if v := strings.TrimSpace(app.Labels[k]); v != "" {
			return v
		}
	}
	for _, k := range keys {
		if v := strings.TrimSpace(app.Annotations[k]); v != "" {
			return v
		}
	}
	return def
}

// owner is the first usable of: the owner keys, the project's owner, the
// instance's and the catalog's default owner.
func (b *builder) owner(source string, in Instance, app *paved.App) string {
	var candidates []string
	for _, k := range b.o.OwnerKeys {
		candidates = append(candidates, strings.TrimSpace(app.Labels[k]))
	}
	for _, k := range b.o.OwnerKeys {
		candidates = append(candidates, strings.TrimSpace(app.Annotations[k]))
	}
	candidates = append(candidates, b.o.ProjectOwners[app.Project], in.DefaultOwner, b.o.DefaultOwner)
	for _, c := range candidates {
		if c == "" {
			continue
		}
		r, err := parseRef(c, "group", in.Namespace)
		if err == nil {
			return r
		}
		b.skip(source, "ignored owner %q: %v", c, err)
	}
	return "group:default/unknown"
}

// parseRef reads an entity reference in any of Backstage's short forms
// ("team-a", "group:team-a", "default/team-a", "group:default/team-a") and
// returns the full form.
func parseRef(s, defaultKind, defaultNamespace string) (string, error) {
	kind, rest, ok := strings.Cut(s, ":")
	if !ok {
		kind, rest = defaultKind, s
	}
	ns, name, ok := strings.Cut(rest, "/")
	if !ok {
		ns, name = defaultNamespace, rest
	}
	switch {
	case kind == "" || strings.ContainsAny(kind, "/ "):
		return "", fmt.Errorf("kind %q is not valid", kind)
	case !ValidNamespace(strings.ToLower(ns)):
		return "", fmt.Errorf("namespace %q is not valid", ns)
	case !ValidName(name):
		return "", fmt.Errorf("name %q is not a valid entity name", name)
	}
	return EntityRef(kind, ns, name), nil
}

type resource struct {
	ref    string
	entity Entity
}

func (b *builder) resources(infra []Infra) []resource {
	infra = slices.Clone(infra)
	slices.SortFunc(infra, func(a, c Infra) int { return cmp.Or(cmp.Compare(a.ID, c.ID), cmp.Compare(a.Name, c.Name)) })
	b.dependsOn = map[string][]string{}
	ids := map[string]bool{}
	var out []resource
	for _, r := range infra {
		source := "infra/" + r.ID
		switch {
		case r.ID == "":
			b.skip("infra/"+r.Name, "the resource has no id")
			continue
		case ids[r.ID]:
			b.skip(source, "listed twice")
			continue
		}
		ids[r.ID] = true
		raw := cmp.Or(r.Name, r.ID)
		name, ref, ok := b.name(KindResource, b.o.Namespace, source, raw, r.ID)
		if !ok {
			continue
		}
		e := Entity{APIVersion: APIVersion, Kind: KindResource}
		e.Metadata.Name = name
		e.Metadata.Namespace = b.o.Namespace
		e.Metadata.Title = raw
		e.Metadata.Description = r.Description
		e.Metadata.Annotations = map[string]string{paved.AnnotationInfraID: r.ID}
		if b.o.LocationURL != "" {
			e.Metadata.Annotations[AnnotationManagedByLocation] = "url:" + b.o.LocationURL
			e.Metadata.Annotations[AnnotationManagedByOriginLocation] = "url:" + b.o.LocationURL
		}
		setNonEmpty(e.Metadata.Annotations, paved.AnnotationInfraStatus, r.Status)
		setNonEmpty(e.Metadata.Annotations, paved.AnnotationCostMonthly, r.CostMonthly)
		if app := b.infraApps[r.ID]; app != nil {
			ann := e.Metadata.Annotations
			ann[AnnotationArgoAppName] = app.Name
			ann[AnnotationArgoInstance] = app.Instance
			setNonEmpty(ann, AnnotationArgoAppNamespace, app.Namespace)
			setNonEmpty(ann, AnnotationSyncStatus, app.SyncStatus)
			setNonEmpty(ann, AnnotationHealthStatus, app.HealthStatus)
			if app.URL != "" {
				e.Metadata.Links = []Link{{URL: app.URL, Title: "Argo CD", Icon: "dashboard", Type: "argocd"}}
			}
		}
		e.Metadata.Tags = []string{"paved"}
		e.Spec.Type = cmp.Or(strings.TrimSpace(r.Type), "resource")
		e.Spec.Owner = b.o.DefaultOwner
		if r.Owner != "" {
			if o, err := parseRef(r.Owner, "group", b.o.Namespace); err == nil {
				e.Spec.Owner = o
			} else {
				b.skip(source, "ignored owner %q: %v", r.Owner, err)
			}
		}
		if o, err := parseRef(e.Spec.Owner, "group", b.o.Namespace); err == nil {
			e.Spec.Owner = o
		}
		user := ""
		if r.App.Name != "" {
			ns := r.App.Namespace
			user = b.appRefs[appKey{r.App.Instance, ns, r.App.Name}]
			if user == "" {
				b.skip(source, "its application %s/%s on %s is not in the catalog; no dependency recorded", ns, r.App.Name, r.App.Instance)
			}
		}
		if user == "" && r.EntityRef != "" {
			if u, err := parseRef(r.EntityRef, "component", b.o.Namespace); err == nil {
				user = cmp.Or(b.entityRefs[u], u)
			} else {
				b.skip(source, "ignored entity ref %q: %v", r.EntityRef, err)
			}
		}
		if user != "" {
			e.Spec.DependencyOf = []string{user}
			b.dependsOn[user] = append(b.dependsOn[user], ref)
		}
		out = append(out, resource{ref: ref, entity: e})
	}
	return out
}

// arenaChunk is the size of the buffers entities are encoded into: a
// snapshot of 10,000 entities takes a dozen allocations, not 10,000.
const arenaChunk = 1 << 20

// add encodes an entity into the output.
func (b *builder) add(ref, locationKey string, e *Entity) {
	b.scratch = e.AppendJSON(b.scratch[:0])
	if cap(b.arena)-len(b.arena) < len(b.scratch) {
		b.arena = make([]byte, 0, max(arenaChunk, len(b.scratch)))
	}
	start := len(b.arena)
	b.arena = append(b.arena, b.scratch...)
	b.out.Items = append(b.out.Items, Item{Ref: ref, LocationKey: locationKey, Entity: b.arena[start:len(b.arena):len(b.arena)]})
}

func setNonEmpty(m map[string]string, k, v string) {
	if v != "" {
		m[k] = v
	}
}
