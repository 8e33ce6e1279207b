package infra_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paved-dev/paved/infra"
)

// checkOnly is a driver that only checks templates: kinds loading needs no more.
type checkOnly struct{}

func (checkOnly) Check(infra.Kind) error { return nil }
func (checkOnly) Provision(context.Context, infra.Kind, infra.Resource) (infra.Outcome, error) {
	return infra.Outcome{}, nil
}
func (checkOnly) Deprovision(context.Context, infra.Kind, infra.Resource) error { return nil }

func TestSealer(t *testing.T) {
	key := bytes.Repeat([]byte{7}, infra.KeySize)
	s, err := infra.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal([]byte(`{"password":"hunter2"}`), []byte("res-1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("hunter2")) {
		t.Fatal("sealed text holds the plain text")
	}
	plain, err := s.Open(sealed, []byte("res-1"))
	if err != nil || string(plain) != `{"password":"hunter2"}` {
		t.Fatalf("Open = %q, %v", plain, err)
	}
	if _, err := s.Open(sealed, []byte("res-2")); err == nil {
		t.Error("credentials sealed for one resource opened for another")
	}
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	if _, err := s.Open(tampered, []byte("res-1")); err == nil {
		t.Error("tampered credentials opened")
	}
	other, _ := infra.NewSealer(bytes.Repeat([]byte{8}, infra.KeySize))
	if _, err := other.Open(sealed, []byte("res-1")); err == nil {
		t.Error("credentials opened with another key")
	}
	if _, err := infra.NewSealer([]byte("short")); err == nil {
		t.Error("a short key was accepted")
	}
}

func TestLoadKeyCreatesItOnce(t *testing.T) {
	file := filepath.Join(t.TempDir(), "data", "infra-key")
	k1, err := infra.LoadKey("", file)
	if err != nil || len(k1) != infra.KeySize {
		t.Fatalf("LoadKey = %d bytes, %v", len(k1), err)
	}
	k2, err := infra.LoadKey("", file)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("a second LoadKey returned another key (%v)", err)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := infra.LoadKey("bm90IDMyIGJ5dGVz", file); err == nil {
		t.Error("a configured key of the wrong length was accepted")
	}
}

func TestLoadKindsReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yaml", "name: db\ntitle: DB\nowner: group:default/p\ndriver: manifests\n")
	write("b.yaml", "name: db\ntitle: Again\nowner: group:default/p\ndriver: manifests\n")
	write("c.yaml", "name: Bad_Name\ntitle: ''\ndriver: manifests\nparameters: {type: string}\n")
	write("d.yaml", "name: pg\ntitle: PG\nowner: group:default/p\ndriver: postgres\n")
	write("e.yml", "name: typo\ntitle: T\nowner: o\ndriver: manifests\nparamters: {}\n")
	_, _, err := infra.LoadKinds(dir, map[string]infra.Driver{"manifests": checkOnly{}})
	if err == nil {
		t.Fatal("LoadKinds accepted broken kinds")
	}
	for _, want := range []string{"b.yaml: kind \"db\" is also defined in a.yaml", "c.yaml: name must match", "title is required", "owner is required",
		"parameters must be a JSON Schema of type object", "e.yml: yaml", "paramters"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}

	ok := t.TempDir()
	if err := os.WriteFile(filepath.Join(ok, "a.yaml"), []byte("name: db\ntitle: DB\nowner: group:default/p\ndriver: manifests\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ok, "d.yaml"), []byte("name: pg\ntitle: PG\nowner: group:default/p\ndriver: postgres\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kinds, skipped, err := infra.LoadKinds(ok, map[string]infra.Driver{"manifests": checkOnly{}})
	if err != nil || len(kinds) != 1 || len(skipped) != 1 || !strings.Contains(skipped[0], "pg") {
		t.Fatalf("LoadKinds = %v, skipped %v, %v", kinds, skipped, err)
	}
	if kinds[0].Parameters["additionalProperties"] != false || kinds[0].Type != "infrastructure" {
		t.Errorf("defaults not filled: %+v", kinds[0])
	}
}

func TestExampleKindsLoad(t *testing.T) {
	kinds, skipped, err := infra.LoadKinds(filepath.Join("..", "examples", "infra-kinds"),
		map[string]infra.Driver{"manifests": checkOnly{}, "postgres": checkOnly{}})
	if err != nil || len(skipped) != 0 || len(kinds) < 3 {
		t.Fatalf("examples: %d kinds, skipped %v, %v", len(kinds), skipped, err)
	}
}

// FuzzParseKind feeds arbitrary YAML to the kind parser: it may refuse it,
// never panic.
func FuzzParseKind(f *testing.F) {
	for _, name := range []string{"postgresql.yaml", "postgresql-crossplane.yaml", "s3-bucket-terraform.yaml"} {
		raw, err := os.ReadFile(filepath.Join("..", "examples", "infra-kinds", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte("name: x\nparameters: {type: object, properties: {a: {$ref: '#/definitions/x'}}}"))
	drivers := map[string]infra.Driver{"manifests": checkOnly{}, "postgres": checkOnly{}}
	f.Fuzz(func(t *testing.T, raw []byte) {
		k, err := infra.ParseKind(raw, drivers)
		if err == nil && (k.Name == "" || k.Driver == "") {
			t.Errorf("accepted a kind without name or driver: %+v", k)
		}
	})
}
