package argocdtest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient/application"
	"github.com/argoproj/argo-cd/v2/pkg/apiclient/session"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/paved-dev/paved/argocd/argocdtest"
)

func start(t *testing.T, opts argocdtest.Options) (*argocdtest.Server, *grpc.ClientConn) {
	t.Helper()
	srv, err := argocdtest.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return srv, conn
}

func guestbook() *v1alpha1.Application {
	return &v1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "guestbook"},
		Spec: v1alpha1.ApplicationSpec{
			Project:     "default",
			Source:      &v1alpha1.ApplicationSource{RepoURL: "https://git.example/apps.git", Path: "guestbook", TargetRevision: "main"},
			Destination: v1alpha1.ApplicationDestination{Server: argocdtest.InClusterServer, Namespace: "guestbook"},
		},
	}
}

func wantCode(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != code || !strings.Contains(st.Message(), msg) {
		t.Fatalf("got %v %q, want %v containing %q", st.Code(), st.Message(), code, msg)
	}
}

func TestServerSpeaksArgoCDSemantics(t *testing.T) {
	srv, conn := start(t, argocdtest.Options{Username: "admin", Password: "pw"})
	ctx := context.Background()
	apps := application.NewApplicationServiceClient(conn)

	_, err := apps.Create(ctx, &application.ApplicationCreateRequest{Application: guestbook()})
	wantCode(t, err, codes.Unauthenticated, "no session information")

	_, err = session.NewSessionServiceClient(conn).Create(ctx, &session.SessionCreateRequest{Username: "admin", Password: "wrong"})
	wantCode(t, err, codes.Unauthenticated, "Invalid username or password")
	res, err := session.NewSessionServiceClient(conn).Create(ctx, &session.SessionCreateRequest{Username: "admin", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	ctx = metadata.AppendToOutgoingContext(ctx, "token", res.Token)

	created, err := apps.Create(ctx, &application.ApplicationCreateRequest{Application: guestbook()})
	if err != nil {
		t.Fatal(err)
	}
	again, err := apps.Create(ctx, &application.ApplicationCreateRequest{Application: guestbook()})
	if err != nil {
		t.Fatalf("same spec must be idempotent: %v", err)
	}
	if again.UID != created.UID {
		t.Fatalf("same spec returned another object")
	}
	changed := guestbook()
	changed.Spec.Source.Path = "other"
	_, err = apps.Create(ctx, &application.ApplicationCreateRequest{Application: changed})
	wantCode(t, err, codes.InvalidArgument, "existing application spec is different, use upsert flag to force update")

	other := guestbook()
	other.Name = "other"
	other.Spec.Project = "nope"
	_, err = apps.Create(ctx, &application.ApplicationCreateRequest{Application: other})
	wantCode(t, err, codes.InvalidArgument, `app is not allowed in project "nope", or the project does not exist`)

	bad := guestbook()
	bad.Name = "Bad_Name"
	_, err = apps.Create(ctx, &application.ApplicationCreateRequest{Application: bad})
	wantCode(t, err, codes.InvalidArgument, "a lowercase RFC 1123 subdomain")

	srv.SetMissing("https://git.example/apps.git", "missing")
	missing := guestbook()
	missing.Name = "missing"
	missing.Spec.Source.Path = "missing"
	_, err = apps.Create(ctx, &application.ApplicationCreateRequest{Application: missing})
	wantCode(t, err, codes.InvalidArgument, "application spec for missing is invalid: InvalidSpecError: Unable to generate manifests in missing: rpc error: code = Unknown desc = missing: app path does not exist")

	name, project := "nothere", "default"
	_, err = apps.Get(ctx, &application.ApplicationQuery{Name: &name})
	wantCode(t, err, codes.PermissionDenied, "permission denied")
	_, err = apps.Get(ctx, &application.ApplicationQuery{Name: &name, Projects: []string{project}})
	wantCode(t, err, codes.NotFound, `applications.argoproj.io "nothere" not found`)

	synced, err := apps.Sync(ctx, &application.ApplicationSyncRequest{Name: &created.Name})
	if err != nil {
		t.Fatal(err)
	}
	if synced.Status.Sync.Status != v1alpha1.SyncStatusCodeSynced || len(synced.Status.History) != 1 {
		t.Fatalf("after a zero-delay sync: %+v", synced.Status)
	}

	srv.RevokeTokens()
	_, err = apps.Get(ctx, &application.ApplicationQuery{Name: &created.Name})
	wantCode(t, err, codes.Unauthenticated, "invalid session: token is revoked, please re-login")
	if got := srv.Calls(argocdtest.MethodLogin); got != 2 {
		t.Fatalf("login calls = %d, want 2", got)
	}
}
