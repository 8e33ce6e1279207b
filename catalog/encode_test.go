package catalog_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/paved-dev/paved/catalog"
)

func fuzzEntity(s string) catalog.Entity {
	e := catalog.Entity{APIVersion: catalog.APIVersion, Kind: catalog.KindComponent}
	e.Metadata.Name = s
	e.Metadata.Namespace = "default"
	e.Metadata.Title = s
	e.Metadata.Annotations = map[string]string{s: s, "argocd/app-name": s, "z": "<&>"}
	if len(s) > 2 {
		e.Metadata.Labels = map[string]string{s[:2]: s[1:]}
		e.Metadata.Tags = []string{s, "argocd"}
		e.Metadata.Links = []catalog.Link{{URL: s}, {URL: "https://x", Title: s, Icon: "dashboard", Type: s}}
		e.Spec.DependsOn = []string{s}
		e.Spec.DependencyOf = []string{s, s}
		e.Spec.System = s
	}
	e.Spec.Type = s
	e.Spec.Lifecycle = s
	e.Spec.Owner = s
	return e
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "shop", "a\"b\\c\n\t\r\b\f\x00\x1f", "<script>&", "ä€日本", "\u2028\u2029", "\xff\xfe bad utf8", "x"} {
		e := fuzzEntity(s)
		want, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Errorf("AppendJSON(%q):\n got %s\nwant %s", s, got, want)
		}
	}
	var empty catalog.Entity
	want, _ := json.Marshal(&empty)
	if got := empty.AppendJSON(nil); !bytes.Equal(got, want) {
		t.Errorf("empty entity:\n got %s\nwant %s", got, want)
	}
}

func FuzzAppendJSON(f *testing.F) {
	for _, s := range []string{"shop", "<&>", "\xff", "\u2028", "a\"\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := fuzzEntity(s)
		want, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Fatalf("AppendJSON(%q):\n got %s\nwant %s", s, got, want)
		}
	})
}
