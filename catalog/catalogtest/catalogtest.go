// Package catalogtest checks that a real Backstage catalog ingested paved's
// entities: every entity of a snapshot is there, with its owner and its
// dependsOn relations. The end-to-end suite calls VerifyIngested with
// backstagehost's WaitEntity after registering paved's entities.yaml as a URL
// location (or adding the catalog module).
package catalogtest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/catalog"
)

// GetEntity returns an entity of the catalog by kind, namespace and name,
// waiting until it exists (backstagehost.Backstage.WaitEntity).
type GetEntity func(ctx context.Context, kind, namespace, name string) (map[string]any, error)

// YAMLURL is the URL to register as a Backstage `url` location.
func YAMLURL(pavedBaseURL, pluginID string) string {
	return strings.TrimRight(pavedBaseURL, "/") + "/api/" + pluginID + "/catalog/entities.yaml"
}

// VerifyIngested waits until every entity of snap is in the catalog with the
// same owner and with the ownedBy and dependsOn relations it implies, and
// returns what is still missing when ctx ends. Relations appear a little
// after the entity (Backstage stitches them), so it polls.
func VerifyIngested(ctx context.Context, get GetEntity, snap *catalog.Snapshot) error {
	for _, it := range snap.Items() {
		var want catalog.Entity
		if err := json.Unmarshal(it.Entity, &want); err != nil {
			return fmt.Errorf("%s: %w", it.Ref, err)
		}
		var problem string
		for {
			got, err := get(ctx, strings.ToLower(want.Kind), want.Metadata.Namespace, want.Metadata.Name)
			if err != nil {
				return fmt.Errorf("%s: %w", it.Ref, err)
			}
			problem = compare(want, got)
			if problem == "" {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: %s", it.Ref, problem)
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	return nil
}

// compare says what differs between paved's entity and the catalog's.
func compare(want catalog.Entity, got map[string]any) string {
	spec, _ := got["spec"].(map[string]any)
	if o, _ := spec["owner"].(string); o != want.Spec.Owner {
		return fmt.Sprintf("owner is %q, want %q", o, want.Spec.Owner)
	}
	meta, _ := got["metadata"].(map[string]any)
	ann, _ := meta["annotations"].(map[string]any)
	for _, k := range []string{catalog.AnnotationArgoAppName, catalog.AnnotationArgoInstance, paved.AnnotationInfraID} {
		if v := want.Metadata.Annotations[k]; v != "" && ann[k] != v {
			return fmt.Sprintf("annotation %s is %v, want %q", k, ann[k], v)
		}
	}
	relations := map[string]bool{}
	list, _ := got["relations"].([]any)
	for _, r := range list {
		m, _ := r.(map[string]any)
		t, _ := m["type"].(string)
		target, _ := m["targetRef"].(string)
		relations[strings.ToLower(t+" "+target)] = true
	}
	wantRel := []string{"ownedBy " + want.Spec.Owner}
	for _, d := range want.Spec.DependsOn {
		wantRel = append(wantRel, "dependsOn "+d)
	}
	for _, d := range want.Spec.DependencyOf {
		wantRel = append(wantRel, "dependencyOf "+d)
	}
	for _, r := range wantRel {
		if !relations[strings.ToLower(r)] {
			return fmt.Sprintf("relation %q missing (has %d relations)", r, len(list))
		}
	}
	return ""
}
