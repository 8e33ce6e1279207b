//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"

	"github.com/paved-dev/paved/e2e/backstagehost"
	"github.com/paved-dev/paved/e2e/pavedproc"
	"github.com/paved-dev/paved/e2e/stack"
)

// TestBrowserEntityCards opens paved's entity cards and resource page in a
// real Chromium, in the e2e Backstage app (e2e/browser/src: EntityPage reads
// the entity from the catalog's by-name route and provides it to the cards),
// whose catalog calls go to the real e2e Backstage backend (backstagehost)
// and paved calls to the real paved binary on PostgreSQL, whose postgres
// driver provisions a real database on the test server; paved reads
// memberships and owners from that catalog with its own plugin token. Argo
// CD is the real one of the e2e stack (v2.14 unless PAVED_E2E_ARGOCD=v3, on
// a real kube-apiserver), deploying e2e/fixtures/plain. Two users, signed in
// through Backstage's real auth backend (its oauth2-proxy provider), whose
// Backstage user tokens are the frontend's identity towards the catalog and
// paved: carol is in payments, which owns the database and the component;
// dave is not.
//
// carol sees the app's sync, health and revision as Argo CD reports them and
// syncs it (Argo CD runs a new operation, initiated by paved's account, not
// by the automated policy, and it succeeds),
// sees the resource card, reveals and copies the connection details (the
// test connects to PostgreSQL with the copied URL), extends the lifetime
// (paved's expiry moves) and tears the database down after the
// confirmation (the database is gone); dave reads "Not yours", gets no
// reveal button and no Sync, and the secret is in neither his page nor any
// response his browser received. Screenshots of each card go to
// e2e/.run/browser-cards/.
func TestBrowserEntityCards(t *testing.T) {
	dir, chromium, node := browserPrereqs(t)
	root := repoRoot()
	artifacts := filepath.Join(root, "e2e", ".run", "browser-cards")
	// A previous run's screenshots must not stand in for this run's.
	if err := os.RemoveAll(artifacts); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	bundled, _ := bundleBrowserApp(node, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	st := stack.StartForTest(ctx, t, "argocd-server", "argocd-application-controller", "argocd-repo-server")

	store := scenarioDatabase(t)
	admin := serverURL(t, store)
	pavedAddr, bsAddr, bsPort := freeAddrs(t)
	p := pavedproc.Start(t, pavedproc.Options{Addr: pavedAddr, Database: store, Config: fmt.Sprintf(`
backstage:
  discovery: http://%s/api/{{pluginId}}
devex:
  interval: 1h
  readerGroups: [group:default/payments]
argocd:
  instances:
    - name: default
      server: %s
      plainText: true
      token: ${ARGO_TOKEN}
infra:
  kindsDir: %s
`, bsAddr, st.ArgoCDAddr, filepath.Join(root, "examples", "infra-kinds")),
		Env: []string{"ARGO_TOKEN=" + st.PavedToken, "PAVED_INFRA_POSTGRES_URL=" + admin}})
	api := pavedHTTP{p: p, client: http.DefaultClient}

	// The catalog: carol in payments, dave not, and payments' service.
	entities := t.TempDir()
	if err := os.WriteFile(filepath.Join(entities, "people.yaml"), []byte(templatesPeople+`---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: shop
spec:
  type: service
  lifecycle: production
  owner: group:default/payments
`), 0o644); err != nil {
		t.Fatal(err)
	}
	// Permissions brings Backstage's auth backend: carol and dave sign in
	// through it (its oauth2-proxy provider), and their Backstage user
	// tokens are the frontend's identity towards the catalog and paved,
	// which verifies them against the auth backend's keys.
	bs := backstagehost.StartT(t, backstagehost.Options{Port: bsPort, PavedBaseURL: "http://" + pavedAddr + "/api/{{pluginId}}", TemplatesDir: entities, Permissions: true})
	waitMemberOf(t, ctx, bs, "carol", "group:default/payments")
	waitMemberOf(t, ctx, bs, "dave", "group:default/other")
	if _, err := bs.WaitEntity(ctx, "component", "default", "shop"); err != nil {
		t.Fatal(err)
	}

	// What the golden paths made for payments: a database and the service's
	// app, whose owner paved reads from the catalog (the component's).
	name := "cards-" + randomHex(3)
	ident := strings.ReplaceAll(name, "-", "_")
	dropLater(t, admin, ident)
	db := api.invoke(t, ctx, "paved:provision-infra", map[string]any{"kind": "postgresql", "name": name, "owner": "group:default/payments",
		"parameters": map[string]any{"size": "small", "region": "us-east-1"}, "ttl": "2d", "entityRef": "component:default/shop"})
	id, _ := db.Output["id"].(string)
	if id == "" {
		t.Fatalf("provision-infra output: %v", db.Output)
	}
	app := "shop-" + randomHex(3)
	api.invoke(t, ctx, "paved:create-argocd-app", map[string]any{"name": app,
		"source":      map[string]any{"repoURL": st.GitURL("plain"), "path": ".", "targetRevision": "main"},
		"destination": map[string]any{"namespace": app}, "createNamespace": true,
		"automated": map[string]any{"prune": true, "selfHeal": true}, "wait": true, "waitTimeout": "3m",
		"entityRef": "component:default/shop"})
	// The automated policy's first sync, which the card's Sync must follow
	// with an operation of its own.
	created := argoApp(t, st, app, "")
	if created.Status.OperationState == nil || created.Status.Sync.Revision == "" {
		t.Fatalf("Argo CD's application after the wait: %+v", created.Status)
	}
	// The Resource as paved's catalog provider writes it, in a file the
	// catalog's location picks up.
	if err := os.WriteFile(filepath.Join(entities, "resource.yaml"), []byte(fmt.Sprintf(`apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: %s
  annotations: {paved.dev/infra-id: %s}
spec:
  type: database
  owner: group:default/payments
`, name, id)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := bs.WaitEntity(ctx, "resource", "default", name); err != nil {
		t.Fatal(err)
	}

	if err := <-bundled; err != nil {
		t.Fatal(err)
	}
	dist := filepath.Join(dir, "dist")
	appFor := func(user, group string) string {
		token, refs, err := bs.SignIn(ctx, user)
		if err != nil {
			t.Fatalf("signing %s in: %v", user, err)
		}
		if !slices.Contains(refs, group) {
			t.Fatalf("%s signed in with ownership refs %v, want %s in them", user, refs, group)
		}
		return browserApp(t, dist,
			browserBackend{"/api/catalog/", bs.BaseURL(), token},
			browserBackend{"/api/paved/", p.BaseURL, token}).URL
	}
	ownerURL, outsiderURL := appFor("carol", "group:default/payments"), appFor("dave", "group:default/other")
	drive := func(phase string, into any) {
		t.Helper()
		resultPath := filepath.Join(t.TempDir(), "result.json")
		spec := map[string]any{
			"phase": phase, "chromium": chromium, "artifacts": artifacts, "resultPath": resultPath,
			"ownerUrl": ownerURL, "outsiderUrl": outsiderURL,
			"component": "shop", "app": map[string]string{"instance": "default", "name": app},
			"resource": map[string]string{"id": id, "name": name},
		}
		specPath := filepath.Join(t.TempDir(), "spec.json")
		b, _ := json.Marshal(spec)
		if err := os.WriteFile(specPath, b, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(ctx, node, "drive-cards.mjs", specPath)
		cmd.Dir = dir
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("drive-cards.mjs %s: %v\n%s\n%s", phase, err, stdout.String(), stderr.String())
		}
		raw, err := os.ReadFile(resultPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, into); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("E2E browser cards, %s: %s\n", phase, strings.TrimSpace(stdout.String()))
	}
	var result struct {
		Observed struct {
			AppRow, AppLink, OperationAfterSync           string
			FourKeys                                      map[string]string
			DoraURL                                       string `json:"doraUrl"`
			DoraStatus, DoraBytes                         int
			SyncStatus, ExtendStatus                      int
			Resource                                      map[string]string
			CopiedURL                                     string `json:"copiedUrl"`
			ShownURLMatchesCopy                           bool   `json:"shownUrlMatchesCopy"`
			Password                                      string
			PasswordInDomAfterHide                        bool
			ExpiryBefore, ExpiryAfter, PageStatus         string
			NotYours, OutsiderManage                      string
			OutsiderRevealButtons                         int
			OutsiderSyncDisabled                          bool
			SecretInOutsiderDom, SecretInOutsiderNetwork  bool
			OutsiderResponses, OutsiderConnectionRequests int
		} `json:"observed"`
	}
	drive("cards", &result)
	o := result.Observed

	// The app card: the app's status as Argo CD reports it, and a sync that
	// reached Argo CD.
	if !strings.Contains(o.AppRow, app) || !strings.Contains(o.AppRow, "Synced") || !strings.Contains(o.AppRow, "Healthy") ||
		!strings.Contains(o.AppLink, "/applications/") {
		t.Errorf("app card row %q (link %q): want the app, Synced, Healthy and its Argo CD link", o.AppRow, o.AppLink)
	}
	if rev := created.Status.Sync.Revision; !strings.Contains(o.AppRow, rev[:7]) {
		t.Errorf("app card row %q: want the revision Argo CD synced, %s", o.AppRow, rev)
	}
	// The four keys of the service (payments reads adoption metrics here):
	// one change so far, the automated sync, Healthy, its lead time from
	// the fixture's commit known through Argo CD's revision metadata.
	fmt.Printf("E2E browser cards: the app card's four keys: %q\n", o.FourKeys)
	if !strings.Contains(o.FourKeys["Change failure rate"], "0 of 1 change failed") ||
		!strings.Contains(o.FourKeys["Lead time for changes"], "median of 1") ||
		!strings.Contains(o.FourKeys["Deployment frequency"], "1 deploy on 1 day") ||
		!strings.Contains(o.FourKeys["Time to restore"], "no incident") {
		t.Errorf("the app card's four keys = %q, want one change, not failed, with its lead time", o.FourKeys)
	}
	// It asked paved for its service's row alone.
	fmt.Printf("E2E browser cards: the app card's four keys request %s answered %d, %d bytes\n", o.DoraURL, o.DoraStatus, o.DoraBytes)
	if u, err := url.Parse(o.DoraURL); err != nil || o.DoraStatus != http.StatusOK ||
		u.Query().Get("service") != "component:default/shop" || u.Query().Get("groupBy") != "service" {
		t.Errorf("the app card's four keys request %q answered %d, want service=component:default/shop&groupBy=service, 200", o.DoraURL, o.DoraStatus)
	}
	if o.SyncStatus != http.StatusOK || !strings.Contains(o.OperationAfterSync, "Running") {
		t.Errorf("sync: paved answered %d, the card shows %q", o.SyncStatus, o.OperationAfterSync)
	}
	// Argo CD ran the card's sync: a new operation, paved's, that succeeded.
	first := created.Status.OperationState.StartedAt
	var synced *v1alpha1.OperationState
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		op := argoApp(t, st, app, "").Status.OperationState
		if op != nil && op.StartedAt.After(first.Time) && op.Phase.Completed() {
			synced = op
			break
		}
	}
	if synced == nil || synced.Phase != "Succeeded" || synced.Operation.InitiatedBy.Automated || synced.Operation.InitiatedBy.Username == "" {
		t.Errorf("Argo CD's operation after the card's Sync: %+v (the automated one started %s)", synced, first)
	} else {
		fmt.Printf("E2E browser cards: the card's Sync ran in Argo CD as %s: %s, %s\n", synced.Operation.InitiatedBy.Username, synced.Phase, synced.Message)
	}

	// The resource card.
	want := map[string]string{"kind": "postgresql", "size": "small · us-east-1", "status": "ready", "owner": "group:default/payments", "expiry": "expires in"}
	for k, v := range want {
		if !strings.Contains(o.Resource[k], v) {
			t.Errorf("resource card %s = %q, want %q in it", k, o.Resource[k], v)
		}
	}

	// The connection details: copied as shown, never from a cache, and good
	// for PostgreSQL.
	if !o.ShownURLMatchesCopy || o.Password == "" || !strings.Contains(o.CopiedURL, ident) {
		t.Fatalf("copied connection URL: matches the page %t, password shown %t, names the database %t", o.ShownURLMatchesCopy, o.Password != "", strings.Contains(o.CopiedURL, ident))
	}
	if o.PasswordInDomAfterHide {
		t.Error("the password stayed in the page after Hide")
	}
	conn, err := pgx.Connect(ctx, o.CopiedURL)
	if err != nil {
		t.Fatalf("connecting with the copied details: %v", err)
	}
	var user, database string
	err = conn.QueryRow(ctx, `SELECT current_user, current_database()`).Scan(&user, &database)
	conn.Close(context.Background())
	if err != nil || user != ident || database != ident {
		t.Fatalf("as the copied role: %s on %s: %v", user, database, err)
	}

	// Extend: 2 days left, then 7 more (the card's default choice).
	if o.ExtendStatus != http.StatusOK || !strings.Contains(o.ExpiryBefore, "expires in 48 h") || !strings.Contains(o.ExpiryAfter, "expires in 9 d") {
		t.Errorf("extend: %d, the card went from %q to %q", o.ExtendStatus, o.ExpiryBefore, o.ExpiryAfter)
	}
	if o.PageStatus != "ready" {
		t.Errorf("the resource page /paved/resources/%s showed status %q", id, o.PageStatus)
	}

	// dave: not his.
	if !strings.HasPrefix(o.NotYours, "Not yours") || o.OutsiderRevealButtons != 0 || !o.OutsiderSyncDisabled || !strings.Contains(o.OutsiderManage, "Only its owner") {
		t.Errorf("dave: %q, %d reveal buttons, sync disabled %t, %q", o.NotYours, o.OutsiderRevealButtons, o.OutsiderSyncDisabled, o.OutsiderManage)
	}
	if o.SecretInOutsiderDom || o.SecretInOutsiderNetwork || o.OutsiderConnectionRequests != 0 || o.OutsiderResponses == 0 {
		t.Errorf("dave: secret in his page %t, in his network log %t (%d connection requests of %d responses)",
			o.SecretInOutsiderDom, o.SecretInOutsiderNetwork, o.OutsiderConnectionRequests, o.OutsiderResponses)
	}

	// Tear down: gone from paved and from PostgreSQL.
	var down struct {
		Observed struct {
			DeleteStatus int
			Gone         string
		} `json:"observed"`
	}
	drive("teardown", &down)
	if down.Observed.DeleteStatus != http.StatusOK || !strings.HasPrefix(down.Observed.Gone, "Torn down") {
		t.Errorf("tear down: %d, the card says %q", down.Observed.DeleteStatus, down.Observed.Gone)
	}
	status, _ := getConnection(t, ctx, p.BaseURL+"/api/paved/infra/v1/resources/"+id, p.Token)
	if status != http.StatusNotFound {
		t.Errorf("after the tear down paved answers %d for the resource, want 404", status)
	}
	pg, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(context.Background())
	var left int
	if err := pg.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname = $1`, ident).Scan(&left); err != nil || left != 0 {
		t.Errorf("database %s still exists after the tear down (%d, %v)", ident, left, err)
	}
	if strings.Contains(p.Log(), o.Password) {
		t.Error("the password is in paved's log")
	}
	// Each card, as each user saw it, is kept for a person to look at.
	for _, file := range []string{"app-card.png", "app-card-four-keys.png", "app-card-synced.png", "app-card-not-yours.png",
		"resource-card.png", "resource-card-not-yours.png", "resource-page.png", "teardown-dialog.png"} {
		b, err := os.ReadFile(filepath.Join(artifacts, file))
		if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
			t.Errorf("screenshot %s: not a PNG image (%d bytes, %v)", file, len(b), err)
		}
	}
	fmt.Printf("E2E browser cards: screenshots in %s\n", artifacts)
}

// argoApp is the application as the real Argo CD serves it; appNS names
// the namespace of an application outside Argo CD's own.
func argoApp(t *testing.T, st *stack.Stack, name, appNS string) v1alpha1.Application {
	t.Helper()
	path := "/api/v1/applications/" + name
	if appNS != "" {
		path += "?appNamespace=" + appNS
	}
	code, body, err := st.ArgoREST(http.MethodGet, path, nil)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET application %s: %d %s %v", name, code, body, err)
	}
	var app v1alpha1.Application
	if err := json.Unmarshal(body, &app); err != nil {
		t.Fatal(err)
	}
	return app
}
