package server_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/paved-dev/paved/argocd/argocdtest"
)

// schemaViolation is an input that breaks an action's published schema in
// one field.
type schemaViolation struct {
	field string // the dotted path the 400 must name
	what  string
	input map[string]any
}

// at nests v under the dotted path (numeric parts are array indexes).
func at(path []string, v any) any {
	if len(path) == 0 {
		return v
	}
	inner := at(path[1:], v)
	if len(path) > 1 && isIndex(path[1]) {
		// path[0] is an array; at already built it.
	}
	if isIndex(path[0]) {
		return []any{inner}
	}
	return map[string]any{path[0]: inner}
}

func isIndex(s string) bool { return s == "0" }

// violations walks an input schema and returns, for every field, inputs
// that break each of its constraints: type, pattern, length, enum, items,
// properties, required fields and unknown fields.
func violations(schema map[string]any, path []string) []schemaViolation {
	var out []schemaViolation
	field := strings.Join(path, ".")
	add := func(what string, v any) {
		in, _ := at(path, v).(map[string]any)
		out = append(out, schemaViolation{field: field, what: what, input: in})
	}
	typ, _ := schema["type"].(string)
	wrong := map[string][]any{
		"string":  {1, true, nil, []any{}, map[string]any{}, 1e300},
		"boolean": {"true", 1, nil, []any{true}, map[string]any{}},
		"object":  {"x", 1, false, nil, []any{}},
		"array":   {"x", 1, true, nil, map[string]any{}},
	}
	if len(path) > 0 {
		for _, v := range wrong[typ] {
			add(fmt.Sprintf("type %T", v), v)
		}
	}
	switch typ {
	case "string":
		if e, ok := schema["enum"].([]any); ok {
			add("not in the enum", "not-"+fmt.Sprint(e[len(e)-1])+"-at-all")
		}
		if p, ok := schema["pattern"].(string); ok {
			re := regexp.MustCompile(p)
			for _, s := range []string{"BAD VALUE!", "a\x00b", " ", "../..", "x\ny", "\u202e", "${{ parameters.x }}"} {
				if !re.MatchString(s) {
					add("pattern "+fmt.Sprintf("%q", s), s)
				}
			}
		}
		if n, ok := schema["maxLength"].(float64); ok {
			add("over maxLength", strings.Repeat("a", int(n)+1))
		}
		if n, ok := schema["minLength"].(float64); ok && n > 0 {
			add("under minLength", "")
		}
	case "object":
		props, _ := schema["properties"].(map[string]any)
		if ap, ok := schema["additionalProperties"].(bool); ok && !ap {
			in, _ := at(append(append([]string{}, path...), "zzUnknown"), 1).(map[string]any)
			out = append(out, schemaViolation{field: strings.Join(append(append([]string{}, path...), "zzUnknown"), "."), what: "unknown field", input: in})
			if len(props) > 0 {
				// A key differing only in case is another, unknown key.
				names := sortedKeys(props)
				upper := strings.ToUpper(names[0])
				if upper != names[0] {
					in, _ := at(append(append([]string{}, path...), upper), "x").(map[string]any)
					out = append(out, schemaViolation{field: strings.Join(append(append([]string{}, path...), upper), "."), what: "case variant", input: in})
				}
			}
		}
		if ap, ok := schema["additionalProperties"].(map[string]any); ok {
			for _, v := range violations(ap, append(append([]string{}, path...), "someKey")) {
				out = append(out, v)
			}
		}
		if n, ok := schema["maxProperties"].(float64); ok {
			m := map[string]any{}
			for i := 0; i <= int(n); i++ {
				m[fmt.Sprintf("k%d", i)] = "v"
			}
			add("over maxProperties", m)
		}
		for _, name := range sortedKeys(props) {
			sub, _ := props[name].(map[string]any)
			out = append(out, violations(sub, append(append([]string{}, path...), name))...)
		}
		if req, ok := schema["required"].([]any); ok && len(path) > 0 {
			for _, r := range req {
				f := strings.Join(append(append([]string{}, path...), r.(string)), ".")
				in, _ := at(path, map[string]any{}).(map[string]any)
				out = append(out, schemaViolation{field: f, what: "required", input: in})
			}
		}
	case "array":
		if n, ok := schema["maxItems"].(float64); ok {
			items := make([]any, int(n)+1)
			for i := range items {
				items[i] = map[string]any{}
			}
			add("over maxItems", items)
		}
		if n, ok := schema["minItems"].(float64); ok && n > 0 {
			add("under minItems", []any{})
		}
		if items, ok := schema["items"].(map[string]any); ok {
			out = append(out, violations(items, append(append([]string{}, path...), "0"))...)
		}
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

type listedInputs struct {
	Actions []struct {
		ID     string `json:"id"`
		Schema struct {
			Input map[string]any `json:"input"`
		} `json:"schema"`
	} `json:"actions"`
}

// TestHostileActionSchemas breaks every field of every action's published
// input schema, through v1 and v2: each call is a 400 InputError naming
// the field, recorded as one failed invocation, and nothing else changes.
func TestHostileActionSchemas(t *testing.T) {
	hostileEngines(t, func(t *testing.T, f *hostileFixture) {
		list := f.serve(t, hostileRequest{method: "GET", target: "/api/paved/.backstage/actions/v1/actions", header: bearer(testToken)})
		var actions listedInputs
		if err := json.Unmarshal(list.raw, &actions); err != nil || len(actions.Actions) < 9 {
			t.Fatalf("actions list: %v %s", err, list.raw)
		}
		before := f.state(t)
		calls := 0
		for _, a := range actions.Actions {
			vs := violations(a.Schema.Input, nil)
			if req, ok := a.Schema.Input["required"].([]any); ok {
				for _, r := range req {
					vs = append(vs, schemaViolation{field: r.(string), what: "required", input: map[string]any{}})
				}
			}
			if len(vs) < 3 {
				t.Fatalf("%s: only %d violations from its schema", a.ID, len(vs))
			}
			for _, v := range vs {
				raw, err := json.Marshal(v.input)
				if err != nil {
					t.Fatal(err)
				}
				for _, version := range []string{hostileV1, hostileV2} {
					body := string(raw)
					if version == hostileV2 {
						body = `{"input":` + body + `,"secrets":{"k":"v"}}`
					}
					req := hostileRequest{method: "POST", target: version + a.ID + "/invoke", header: bearer(testToken), body: body}
					resp := f.serve(t, req)
					calls++
					checkError(t, a.ID+" "+v.field+" "+v.what, req, resp, v.field)
					if resp.status != 400 {
						t.Errorf("%s %s %s: %d, want 400: %.300s", a.ID, v.field, v.what, resp.status, resp.raw)
					}
				}
			}
		}
		unchanged(t, "schema violations", before, f.state(t), calls)
		t.Logf("%d calls breaking the schemas of %d actions", calls, len(actions.Actions))
	})
}

// hostileBody is a body for an invoke route; field is what its 400 names.
type hostileBody struct {
	what, action, body string
	v2                 bool   // body is v2's envelope as it is
	status             int    // 0: 400
	field              string // "" for a body that is not an input at all
	recorded           bool   // the registry sees it: one failed invocation
	asks               bool   // Argo CD is asked, and refuses
}

func hostileBodies() []hostileBody {
	nest := func(n int, open, close, inner string) string {
		return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
	}
	huge := strings.Repeat("A!", 300<<10)
	var b []hostileBody
	for _, a := range []string{"paved:create-argocd-app", "paved:list-infra-kinds", "paved:provision-infra", "paved:create-argocd-appset"} {
		for _, c := range []struct{ what, body string }{
			{"not JSON", `{"name":`}, {"not JSON at all", `<xml/>`}, {"form", `name=x`}, {"BOM", "\xef\xbb\xbf{}"},
			{"array", `[]`}, {"string", `"x"`}, {"number", `1`}, {"true", `true`}, {"null", `null`},
			{"two values", `{} {}`}, {"trailing garbage", `{}x`}, {"NUL", "\x00"}, {"invalid UTF-8", "\xff\xfe"},
			{"deep arrays", nest(20000, "[", "]", "")}, {"deep objects", nest(20000, `{"a":`, "}", "1")},
		} {
			b = append(b, hostileBody{what: c.what, action: a, body: c.body, field: "input", recorded: true})
		}
		b = append(b,
			hostileBody{what: "v2 array", action: a, body: `[]`, v2: true, field: "input"},
			hostileBody{what: "v2 string", action: a, body: `"x"`, v2: true, field: "input"},
			hostileBody{what: "v2 not JSON", action: a, body: `{"input":`, v2: true, field: "input"},
			hostileBody{what: "v2 input array", action: a, body: `{"input":[]}`, v2: true, field: "input", recorded: true},
			hostileBody{what: "v2 input string", action: a, body: `{"input":"{}"}`, v2: true, field: "input", recorded: true},
			hostileBody{what: "v2 input null", action: a, body: `{"input":null}`, v2: true, field: "input", recorded: true},
			hostileBody{what: "v2 secrets string", action: a, body: `{"input":{},"secrets":"x"}`, v2: true, field: "secrets"},
			hostileBody{what: "v2 secret number", action: a, body: `{"input":{},"secrets":{"k":1}}`, v2: true, field: "secrets"},
			hostileBody{what: "v2 deep input", action: a, body: `{"input":` + nest(20000, "[", "]", "") + `}`, v2: true, field: "input"},
		)
	}
	add := func(what, action, body, field string) {
		b = append(b, hostileBody{what: what, action: action, body: body, field: field, recorded: true})
	}
	app := func(extra string) string {
		return `{"name":"demo","source":{"repoURL":"https://git.test/x.git","path":"deploy"},"destination":{"namespace":"demo"}` + extra + `}`
	}
	const create = "paved:create-argocd-app"
	add("huge name", create, `{"name":"`+huge+`"}`, "name")
	add("NUL in name", create, `{"name":"demo\u0000"}`, "name")
	add("raw invalid UTF-8 in name", create, "{\"name\":\"demo\xff\"}", "name")
	add("number out of range", create, `{"name":1e999}`, "name")
	add("huge integer", create, `{"name":123456789012345678901234567890}`, "name")
	add("duplicate key, bad last", create, app(`,"name":"BAD!"`), "name")
	add("case variant key", create, app(`,"Name":"demo"`), "Name")
	add("empty key", create, app(`,"":1`), `""`)
	add("empty nested key", create, app(`,"automated":{"":true}`), `automated.""`)
	add("path with ..", create, app(`,"sources":null`)[:0]+`{"name":"demo","source":{"repoURL":"https://git.test/x.git","path":"a/../b"},"destination":{"namespace":"demo"}}`, "source.path")
	add("path and chart", create, `{"name":"demo","source":{"repoURL":"r","path":"p","chart":"c"},"destination":{"namespace":"demo"}}`, "source.chart")
	add("chart without version, gitops", create, `{"name":"demo","mode":"gitops","source":{"repoURL":"https://charts.test","chart":"c"},"destination":{"namespace":"demo"}}`, "source.targetRevision")
	add("chart without version", create, `{"name":"demo","sources":[{"repoURL":"https://charts.test","chart":"c"}],"destination":{"namespace":"demo"}}`, "sources.0.targetRevision")
	add("no path", create, `{"name":"demo","source":{"repoURL":"r"},"destination":{"namespace":"demo"}}`, "source.path")
	add("ref in source", create, `{"name":"demo","source":{"repoURL":"r","path":"p","ref":"x"},"destination":{"namespace":"demo"}}`, "source.ref")
	add("no source", create, `{"name":"demo","destination":{"namespace":"demo"}}`, "source")
	add("server and name", create, `{"name":"demo","source":{"repoURL":"r","path":"p"},"destination":{"namespace":"demo","server":"https://k","name":"in-cluster"}}`, "destination.name")
	add("wait timeout overflow", create, app(`,"wait":true,"waitTimeout":"9999999999999h"`), "waitTimeout")
	add("wait timeout zero", create, app(`,"wait":true,"waitTimeout":"0s"`), "waitTimeout")
	add("wait timeout over max", create, app(`,"wait":true,"waitTimeout":"2h"`), "waitTimeout")
	add("label key", create, app(`,"labels":{"bad key!":"x"}`), "labels.bad key!")
	add("label key NUL", create, app(`,"labels":{"a\u0000":"x"}`), "labels.a")
	add("label value", create, app(`,"labels":{"team":"`+strings.Repeat("x", 64)+`"}`), "labels.team")
	add("annotation key", create, app(`,"annotations":{"":"x"}`), "annotations")
	add("unknown instance", create, app(`,"instance":"nope"`), "instance")
	add("gitops with createProject", create, app(`,"mode":"gitops","createProject":true`), "createProject")
	add("valuesObject deep", create, `{"name":"demo","source":{"repoURL":"r","chart":"c","helm":{"valuesObject":`+nest(9000, `{"a":`, "}", "1")+`}},"destination":{"namespace":"demo"},"zz":1}`, "zz")

	const appset = "paved:create-argocd-appset"
	set := func(extra string) string {
		return `{"name":"shop","repoURL":"https://git.test/x.git","environments":[{"name":"dev","namespace":"shop-dev"}]` + extra + `}`
	}
	add("duplicate environments", appset, `{"name":"shop","repoURL":"r","environments":[{"name":"dev","namespace":"a"},{"name":"dev","namespace":"b"}]}`, "environments.1.name")
	add("unknown placeholder", appset, set(`,"path":"{{.nope}}"`), "path")
	add("template action", appset, set(`,"path":"{{printf \"x\"}}"`), "path")
	add("unclosed placeholder", appset, set(`,"targetRevision":"{{.environment"`), "targetRevision")
	add("appset name too long for its apps", appset, `{"name":"`+strings.Repeat("a", 60)+`","repoURL":"r","environments":[{"name":"production","namespace":"a"}]}`, "name")

	const provision = "paved:provision-infra"
	add("unknown kind parameter", provision, `{"kind":"s3-bucket","name":"assets","parameters":{"region":"eu-west-1","zz":1}}`, "parameters.zz")
	add("bad region", provision, `{"kind":"s3-bucket","name":"assets","parameters":{"region":"mars"}}`, "parameters.region")
	add("region type", provision, `{"kind":"s3-bucket","name":"assets","parameters":{"region":1}}`, "parameters.region")
	add("no region", provision, `{"kind":"s3-bucket","name":"assets","parameters":{}}`, "parameters.region")
	add("NUL region", provision, `{"kind":"s3-bucket","name":"assets","parameters":{"region":"eu-west-1\u0000"}}`, "parameters.region")
	add("huge region", provision, `{"kind":"s3-bucket","name":"assets","parameters":{"region":"`+huge+`"}}`, "parameters.region")
	add("deep parameters", provision, `{"kind":"s3-bucket","name":"assets","parameters":{"region":"eu-west-1","versioning":`+nest(9000, "[", "]", "")+`}}`, "parameters.versioning")
	add("ttl over max", provision, `{"kind":"s3-bucket","name":"assets","ttl":"99999d","parameters":{"region":"eu-west-1"}}`, "ttl")
	add("ttl zero", provision, `{"kind":"s3-bucket","name":"assets","ttl":"0h","parameters":{"region":"eu-west-1"}}`, "ttl")

	notes := func(params string) string {
		return `{"kind":"notes","name":"memo","owner":"group:default/platform","parameters":` + params + `}`
	}
	add("free text with NUL", provision, notes(`{"note":"a\u0000b"}`), "parameters.note")
	add("free text too long", provision, notes(`{"note":"`+strings.Repeat("x", 201)+`"}`), "parameters.note")
	add("number out of range", provision, notes(`{"note":"x","copies":1e999}`), "parameters.copies")
	add("huge integer", provision, notes(`{"note":"x","copies":123456789012345678901234567890}`), "parameters.copies")
	add("fraction", provision, notes(`{"note":"x","copies":1.5}`), "parameters.copies")
	add("negative", provision, notes(`{"note":"x","copies":-1}`), "parameters.copies")
	add("number as string", provision, notes(`{"note":"x","copies":"2"}`), "parameters.copies")
	add("NUL in a key", provision, notes(`{"note":"x","a\u0000":1}`), "parameters.a")
	add("NUL in a helm value", create, `{"name":"demo","source":{"repoURL":"r","chart":"c","helm":{"values":"a: \u0000"}},"destination":{"namespace":"demo"}}`, "source.helm.values")
	add("helm values and valuesObject", create, `{"name":"demo","sources":[{"repoURL":"r","path":"p","helm":{"values":"a: 1","valuesObject":{"a":2}}}],"destination":{"namespace":"demo"}}`, "sources.0.helm.values")
	add("out of range in valuesObject", create, `{"name":"demo","source":{"repoURL":"r","chart":"c","helm":{"valuesObject":{"n":[1e400]}}},"destination":{"namespace":"demo"}}`, "source.helm.valuesObject.n.0")

	const deprovision = "paved:deprovision-infra"
	add("nothing named", deprovision, `{}`, "id")
	add("id and kind", deprovision, `{"id":"`+hostileResourceID+`","kind":"s3-bucket","name":"x"}`, "")
	add("kind without name", deprovision, `{"kind":"s3-bucket"}`, "name")

	for _, a := range []string{"paved:get-argocd-app", "paved:sync-argocd-app", "paved:wait-argocd-app"} {
		// Argo CD is asked, and refuses: a 404 with its message.
		b = append(b, hostileBody{what: "unknown app", action: a, body: `{"name":"nope"}`, recorded: true, asks: true, status: 404})
	}
	for _, a := range []string{"paved:get-argocd-app", "paved:sync-argocd-app", "paved:wait-argocd-app", "paved:delete-argocd-app"} {
		add("unknown instance", a, `{"name":"nope","instance":"nope"}`, "instance")
	}
	add("sync wait overflow", "paved:sync-argocd-app", `{"name":"nope","wait":true,"waitTimeout":"9999999999999h"}`, "waitTimeout")
	add("wait overflow", "paved:wait-argocd-app", `{"name":"nope","timeout":"9999999999999h"}`, "timeout")
	return b
}

// TestHostileInvokeBodies sends bodies that are no valid input, and inputs
// whose every field passes the schema but which the action refuses.
func TestHostileInvokeBodies(t *testing.T) {
	hostileEngines(t, func(t *testing.T, f *hostileFixture) {
		for _, c := range hostileBodies() {
			versions := []string{hostileV1, hostileV2}
			if c.v2 {
				versions = []string{hostileV2}
			}
			for _, version := range versions {
				body := c.body
				if version == hostileV2 && !c.v2 {
					if json.Valid([]byte(body)) {
						body = `{"input":` + body + `}`
					} else if c.field == "input" {
						body = `{"input":` + body + `}` // the envelope breaks too, naming input
					} else {
						continue
					}
				}
				before := f.state(t)
				req := hostileRequest{method: "POST", target: version + c.action + "/invoke", header: bearer(testToken), body: body}
				resp := f.serve(t, req)
				what := c.action + " " + c.what
				checkError(t, what, req, resp, c.field)
				want := c.status
				if want == 0 && resp.status != 404 && resp.status != 403 {
					want = 400
				}
				if want != 0 && resp.status != want {
					t.Errorf("%s: %d, want %d: %.300s", what, resp.status, want, resp.raw)
				}
				if len(resp.raw) > 16<<10 {
					t.Errorf("%s: a %d-byte error", what, len(resp.raw))
				}
				recorded := 0
				if c.recorded && (version == hostileV1 || c.v2 || json.Valid([]byte(c.body))) {
					recorded = 1
				}
				after := f.state(t)
				if c.asks {
					after.argoWrites = before.argoWrites
				}
				unchanged(t, what, before, after, recorded)
			}
		}
	})
}

// TestHostileConflicts: the same name again with another spec is a 409
// that leaves the first call's result as it was.
func TestHostileConflicts(t *testing.T) {
	hostileEngines(t, func(t *testing.T, f *hostileFixture) {
		cases := []struct {
			action, first, second string
			mutating              []string // Argo CD methods the refused call may ask (and be refused by)
		}{
			{"paved:create-argocd-app",
				`{"name":"shop","source":{"repoURL":"https://git.test/x.git","path":"a"},"destination":{"namespace":"shop"}}`,
				`{"name":"shop","source":{"repoURL":"https://git.test/x.git","path":"b"},"destination":{"namespace":"shop"}}`,
				[]string{argocdtest.MethodAppCreate}},
			{"paved:create-argocd-app",
				`{"name":"shop","mode":"gitops","source":{"repoURL":"https://git.test/x.git","path":"a"},"destination":{"namespace":"shop"}}`,
				`{"name":"shop","mode":"gitops","source":{"repoURL":"https://git.test/x.git","path":"b"},"destination":{"namespace":"shop"}}`,
				nil},
			{"paved:create-argocd-appset",
				`{"name":"web","repoURL":"https://git.test/x.git","path":"{{.environment}}","environments":[{"name":"dev","namespace":"web-dev"}]}`,
				`{"name":"web","repoURL":"https://git.test/x.git","path":"other/{{.environment}}","environments":[{"name":"dev","namespace":"web-dev"}]}`,
				[]string{argocdtest.MethodAppSetCreate}},
			{"paved:provision-infra",
				`{"kind":"s3-bucket","name":"assets","owner":"group:default/platform","parameters":{"region":"eu-west-1"}}`,
				`{"kind":"s3-bucket","name":"assets","owner":"group:default/platform","parameters":{"region":"us-east-1"}}`,
				nil},
		}
		for _, c := range cases {
			first := hostileRequest{method: "POST", target: hostileV1 + c.action + "/invoke", header: bearer(testToken), body: c.first}
			if resp := f.serve(t, first); resp.status != 200 {
				t.Fatalf("%s: first call %d %s", c.action, resp.status, resp.raw)
			}
			before := f.state(t)
			second := first
			second.body = c.second
			resp := f.serve(t, second)
			checkError(t, c.action+" conflict", second, resp, "")
			if resp.status != 409 {
				t.Errorf("%s: another spec under the same name: %d, want 409: %.300s", c.action, resp.status, resp.raw)
			}
			after := f.state(t)
			for _, m := range c.mutating {
				after.argoWrites[m] = before.argoWrites[m]
			}
			unchanged(t, c.action+" conflict", before, after, 1)
		}
	})
}

// TestHostileConnectionOfAResource asks for the connection details of a
// resource that exists, with every kind of caller.
func TestHostileConnectionOfAResource(t *testing.T) {
	hostileEngines(t, func(t *testing.T, f *hostileFixture) {
		prov := hostileRequest{method: "POST", target: hostileV1 + "paved:provision-infra/invoke", header: bearer(testToken),
			body: `{"kind":"s3-bucket","name":"assets","owner":"group:default/platform","parameters":{"region":"eu-west-1"}}`}
		resp := f.serve(t, prov)
		var out struct {
			Output struct{ ID string } `json:"output"`
		}
		if err := json.Unmarshal(resp.raw, &out); err != nil || resp.status != 200 || out.Output.ID == "" {
			t.Fatalf("provision: %d %s", resp.status, resp.raw)
		}
		target := "/api/paved/infra/" + out.Output.ID + "/connection"
		for who, c := range map[string]struct {
			token  string
			status int
		}{
			"static operator":            {testToken, 403},
			"user outside the owner":     {f.otherTk, 403},
			"member (no details, files)": {f.readerTk, 404},
			"user, uppercase id":         {f.readerTk, 400},
		} {
			req := hostileRequest{method: "GET", target: target, header: bearer(c.token)}
			if who == "user, uppercase id" {
				req.target = "/api/paved/infra/" + strings.ToUpper(out.Output.ID) + "/connection"
			}
			resp := f.serve(t, req)
			checkError(t, who, req, resp, "")
			if resp.status != c.status {
				t.Errorf("%s: %d, want %d: %.300s", who, resp.status, c.status, resp.raw)
			}
		}
	})
}

// TestHostileAuditSurvivesHostileNeighbours: refused calls carrying NUL
// bytes and invalid UTF-8, recorded in the same batches as valid calls,
// cost no one their audit row (PostgreSQL refuses such text, and a batch
// is one statement).
func TestHostileAuditSurvivesHostileNeighbours(t *testing.T) {
	hostileEngines(t, func(t *testing.T, f *hostileFixture) {
		before := f.state(t)
		const n = 40
		done := make(chan hostileResponse, n)
		for i := range n {
			body := `{}`
			if i%2 == 1 {
				body = "{\"taskId\":\"t\\u0000\",\"entityRef\":\"\\u0000\xff\",\"templateRef\":\"" + strings.Repeat("\\u0000", 1000) + "\",\"kind\":\"a\\u0000\"}"
			}
			go func() {
				done <- f.serve(t, hostileRequest{method: "POST", target: hostileV1 + "paved:list-infra-kinds/invoke", header: bearer(testToken), body: body})
			}()
		}
		for range n {
			<-done
		}
		after := f.state(t)
		if got := after.invocations - before.invocations; got != n {
			t.Errorf("%d invocations recorded, want %d", got, n)
		}
		if got := after.succeeded - before.succeeded; got != n/2 {
			t.Errorf("%d successful invocations recorded, want %d", got, n/2)
		}
	})
}
