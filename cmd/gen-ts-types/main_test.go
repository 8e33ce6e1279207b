package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestGeneratedIsCurrent fails when plugin-frontend/src/api/generated.ts is
// not what the Go answer types say: a renamed or retyped json field breaks
// here, not in the browser.
func TestGeneratedIsCurrent(t *testing.T) {
	want, err := generate(unions, answers...)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../" + output)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s is out of date with the Go types: run `go run ./cmd/gen-ts-types` from the repository root", output)
	}
}

type inner struct {
	N int `json:"n"`
}

type base struct {
	ID string `json:"id"`
}

type sample struct {
	base
	Name     string            `json:"name"`
	Renamed  int64             `json:"renamedField"`
	Optional string            `json:"optional,omitempty"`
	Hidden   string            `json:"-"`
	hidden   string            //nolint:unused // unexported: not in the JSON
	At       time.Time         `json:"at"`
	Until    *time.Time        `json:"until,omitempty"`
	Current  *float64          `json:"current"`
	Tags     []string          `json:"tags"`
	Counts   [2]int            `json:"counts"`
	Labels   map[string]string `json:"labels"`
	Inner    inner             `json:"inner"`
	Refs     []*inner          `json:"refs"`
	Any      any               `json:"any"`
	Quoted   int               `json:"quoted,string"`
	Inline   struct {
		OK bool `json:"ok"`
	} `json:"inline"`
	NoTag bool
}

func TestGenerateMapsJSONTags(t *testing.T) {
	got, err := generate([]union{{"GenStatus", "gen.Statuses", []string{"on", "off"}}}, sample{})
	if err != nil {
		t.Fatal(err)
	}
	want := `
/**
 * gen.Statuses
 *
 * @public
 */
export type GenStatus = 'on' | 'off';

/**
 * gen-ts-types.base
 *
 * @public
 */
export interface GenTsTypesBase {
  /** gen-ts-types.base.ID */
  id: string;
}

/**
 * gen-ts-types.inner
 *
 * @public
 */
export interface GenTsTypesInner {
  /** gen-ts-types.inner.N */
  n: number;
}

/**
 * gen-ts-types.sample
 *
 * @public
 */
export interface GenTsTypesSample extends GenTsTypesBase {
  /** gen-ts-types.sample.Name */
  name: string;
  /** gen-ts-types.sample.Renamed */
  renamedField: number;
  /** gen-ts-types.sample.Optional */
  optional?: string;
  /** gen-ts-types.sample.At */
  at: string;
  /** gen-ts-types.sample.Until */
  until?: string;
  /** gen-ts-types.sample.Current */
  current: number | null;
  /** gen-ts-types.sample.Tags */
  tags: string[];
  /** gen-ts-types.sample.Counts */
  counts: [number, number];
  /** gen-ts-types.sample.Labels */
  labels: Record<string, string>;
  /** gen-ts-types.sample.Inner */
  inner: GenTsTypesInner;
  /** gen-ts-types.sample.Refs */
  refs: (GenTsTypesInner | null)[];
  /** gen-ts-types.sample.Any */
  any: unknown;
  /** gen-ts-types.sample.Quoted */
  quoted: string;
  /** gen-ts-types.sample.Inline */
  inline: {
    ok: boolean;
  };
  /** gen-ts-types.sample.NoTag */
  NoTag: boolean;
}
`
	if _, body, _ := strings.Cut(string(got), "json tags.\n"); body != want {
		t.Errorf("generate:\n%s\nwant:\n%s", body, want)
	}
}

type selfMarshaled struct{}

func (selfMarshaled) MarshalJSON() ([]byte, error) { return []byte(`"x"`), nil }

// A type with its own MarshalJSON has a JSON reflection cannot see: the
// generator refuses it rather than guess.
func TestGenerateRefusesSelfMarshaling(t *testing.T) {
	type withMarshaler struct {
		X selfMarshaled `json:"x"`
	}
	if _, err := generate(nil, withMarshaler{}); err == nil || !strings.Contains(err.Error(), "marshals itself") {
		t.Fatalf("err = %v, want marshals itself", err)
	}
	if _, err := generate(nil, struct{ A int }{}); err == nil {
		t.Fatal("an anonymous root: want an error")
	}
	if _, err := generate([]union{{"X", "x", []string{"it's"}}}); err == nil {
		t.Fatal("a quote in a union value: want an error")
	}
}
