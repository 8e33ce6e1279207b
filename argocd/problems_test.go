package argocd

import (
	"strings"
	"testing"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"github.com/argoproj/gitops-engine/pkg/health"
	synccommon "github.com/argoproj/gitops-engine/pkg/sync/common"

	"github.com/paved-dev/paved"
)

func TestProblems(t *testing.T) {
	a := &v1alpha1.Application{Status: v1alpha1.ApplicationStatus{
		Conditions: []v1alpha1.ApplicationCondition{
			{Type: v1alpha1.ApplicationConditionComparisonError, Message: "rpc error: manifest generation failed"},
			{Type: v1alpha1.ApplicationConditionSharedResourceWarning, Message: "a warning is no problem"},
		},
		OperationState: &v1alpha1.OperationState{Phase: synccommon.OperationFailed, SyncResult: &v1alpha1.SyncOperationResult{
			Resources: v1alpha1.ResourceResults{
				{Kind: "ConfigMap", Namespace: "shop", Name: "Bad_Name", Status: synccommon.ResultCodeSyncFailed, Message: "metadata.name: Invalid value"},
				{Kind: "ConfigMap", Namespace: "shop", Name: "fine", Status: synccommon.ResultCodeSynced, Message: "configured"},
				{Kind: "Job", Namespace: "shop", Name: "migrate", HookPhase: synccommon.OperationFailed, Message: "Job has reached the specified backoff limit"},
			},
		}},
		Resources: []v1alpha1.ResourceStatus{
			{Kind: "ConfigMap", Namespace: "shop", Name: "Bad_Name", Health: &v1alpha1.HealthStatus{Status: health.HealthStatusMissing}},
			{Kind: "Deployment", Namespace: "shop", Name: "api", Health: &v1alpha1.HealthStatus{Status: health.HealthStatusProgressing, Message: "Waiting for rollout to finish"}},
			{Kind: "Service", Namespace: "shop", Name: "api", Health: &v1alpha1.HealthStatus{Status: health.HealthStatusHealthy}},
			{Kind: "Namespace", Name: "shop"},
		},
	}}
	want := []paved.AppProblem{
		{Status: "ComparisonError", Message: "rpc error: manifest generation failed"},
		{Resource: "ConfigMap shop/Bad_Name", Status: "SyncFailed", Message: "metadata.name: Invalid value"},
		{Resource: "Job shop/migrate", Status: "hook Failed", Message: "Job has reached the specified backoff limit"},
		{Resource: "Deployment shop/api", Status: "Progressing", Message: "Waiting for rollout to finish"},
	}
	got := problems(a)
	if len(got) != len(want) {
		t.Fatalf("problems = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("problem %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if s := got[3].String(); s != "Deployment shop/api: Progressing (Waiting for rollout to finish)" {
		t.Errorf("String() = %q", s)
	}
}

func TestProblemsBounded(t *testing.T) {
	a := &v1alpha1.Application{}
	for i := 0; i < 20; i++ {
		a.Status.Resources = append(a.Status.Resources, v1alpha1.ResourceStatus{Kind: "ConfigMap", Name: strings.Repeat("x", i+1),
			Health: &v1alpha1.HealthStatus{Status: health.HealthStatusDegraded, Message: strings.Repeat("é", 400)}})
	}
	got := problems(a)
	if len(got) != maxProblems+1 || got[maxProblems].Status != "12 more" {
		t.Fatalf("%d problems, last %+v; want %d and a count of the rest", len(got), got[len(got)-1], maxProblems+1)
	}
	if m := got[0].Message; len(m) > 300+len("…") || !strings.HasSuffix(m, "…") || !strings.HasPrefix(m, "é") {
		t.Errorf("a long message is not cut on a rune boundary: %d bytes %q…", len(m), m[:10])
	}
}

// A Sync call's answer carries the requested operation while operationState
// still describes the last one: the app reads as syncing, not as the last
// operation's end, until the controller takes the operation up.
func TestRequestedOperationReadsAsRunning(t *testing.T) {
	in := &instance{cfg: InstanceConfig{Server: "argocd.example.com"}}
	last := &v1alpha1.OperationState{Phase: synccommon.OperationFailed, Message: "one or more objects failed to apply"}
	requested := &v1alpha1.Operation{Sync: &v1alpha1.SyncOperation{}}
	for _, c := range []struct {
		name          string
		op            *v1alpha1.Operation
		state         *v1alpha1.OperationState
		phase, prefix string
	}{
		{"no operation", nil, last, "Failed", "one or more objects"},
		{"requested after a finished one", requested, last, "Running", "waiting for the application controller"},
		{"requested, none before", requested, nil, "Running", "waiting for the application controller"},
		{"started", requested, &v1alpha1.OperationState{Phase: synccommon.OperationRunning, Message: "retrying attempt #2"}, "Running", "retrying attempt #2"},
	} {
		got := in.toApp(&v1alpha1.Application{Operation: c.op, Status: v1alpha1.ApplicationStatus{OperationState: c.state}}, "")
		if got.OperationPhase != c.phase || !strings.HasPrefix(got.OperationMessage, c.prefix) {
			t.Errorf("%s: %s %q, want %s %q…", c.name, got.OperationPhase, got.OperationMessage, c.phase, c.prefix)
		}
	}
}
