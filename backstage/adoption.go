package backstage

import (
	"context"
	"net/http"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/devex"
)

// ReadClient reads what adoption metrics need from Backstage: scaffolder
// tasks, catalog components and group memberships. Base URLs come from
// discovery, so pointing paved at another Backstage is one discovery setting.
type ReadClient struct {
	scaffolder pluginAPI
	catalog    *CatalogClient
}

// NewReadClient returns a ReadClient; a nil client uses one with a timeout.
func NewReadClient(d *Discovery, tokens TokenSource, client *http.Client) *ReadClient {
	return &ReadClient{scaffolder: newPluginAPI("scaffolder", d, tokens, client), catalog: NewCatalogClient(d, tokens, client)}
}

// Components returns every Component entity of the catalog.
func (c *ReadClient) Components(ctx context.Context) ([]devex.Component, error) {
	entities, err := c.catalog.QueryEntities(ctx, "kind=component",
		[]string{"kind", "metadata.name", "metadata.namespace", "metadata.annotations", "spec.owner"})
	if err != nil {
		return nil, err
	}
	out := make([]devex.Component, 0, len(entities))
	for _, e := range entities {
		if e.Metadata.Name == "" {
			continue
		}
		owner, _ := e.Spec["owner"].(string)
		out = append(out, devex.Component{
			EntityRef:      e.Ref(),
			Kind:           e.Kind,
			Owner:          devex.GroupRef(owner),
			SourceTemplate: e.Metadata.Annotations[paved.AnnotationTemplate],
		})
	}
	return out, nil
}

// Templates returns every Template entity of the catalog with its current
// version (devex.TemplateVersionOf its annotations and etag).
func (c *ReadClient) Templates(ctx context.Context) ([]devex.TemplateVersion, error) {
	entities, err := c.catalog.QueryEntities(ctx, "kind=template",
		[]string{"kind", "metadata.name", "metadata.namespace", "metadata.annotations", "metadata.etag"})
	if err != nil {
		return nil, err
	}
	out := make([]devex.TemplateVersion, 0, len(entities))
	for _, e := range entities {
		version := devex.TemplateVersionOf(e.Metadata.Annotations, e.Metadata.Etag)
		if e.Metadata.Name == "" || version == "" {
			continue
		}
		out = append(out, devex.TemplateVersion{TemplateRef: e.Ref(), Version: version, Current: true})
	}
	return out, nil
}

var _ devex.TemplateCatalog = (*ReadClient)(nil)

// UserGroups returns the group refs the user is a member of.
func (c *ReadClient) UserGroups(ctx context.Context, userRef string) ([]string, error) {
	return c.catalog.UserGroups(ctx, userRef)
}
