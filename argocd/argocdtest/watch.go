package argocdtest

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient/application"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
)

// MethodAppWatch is the application watch stream, a key of Calls.
const MethodAppWatch = "/application.ApplicationService/Watch"

// watchBuffer is argocd-server's watchAPIBufferSize: a watcher further
// behind than this loses events, as with Argo CD's broadcaster.
const watchBuffer = 1000

// watchHub is the state of the watch streams, guarded by Server.mu. Its zero
// value is ready.
type watchHub struct {
	subs     map[*watchSub]bool
	seen     map[appKey]*v1alpha1.Application // the state the watchers were last told
	failCode codes.Code
	failN    int
}

type watchSub struct {
	selector   labels.Selector
	projects   map[string]bool
	name, ns   string
	minVersion int
	events     chan *v1alpha1.ApplicationWatchEvent
	broken     chan error // closed with a reason by BreakWatches
	reason     error
}

// Watch is ApplicationService.Watch: every matching application as ADDED
// (unless the query names a resource version), then each change as the
// Kubernetes informer of argocd-server would see it, until the client leaves.
func (v *appService) Watch(q *application.ApplicationQuery, ws application.ApplicationService_WatchServer) error {
	s := v.s
	s.mu.Lock()
	s.calls[MethodAppWatch]++
	fail := s.watch.failN != 0
	if s.watch.failN > 0 {
		s.watch.failN--
	}
	code := s.watch.failCode
	s.mu.Unlock()
	if fail {
		return status.Errorf(code, "watch refused (injected by argocdtest)")
	}
	if _, err := s.authenticate(ws.Context()); err != nil {
		return err
	}
	selector, err := labels.Parse(q.GetSelector())
	if err != nil {
		// A plain error, which gRPC sends as Unknown, as argocd-server does.
		return fmt.Errorf("error parsing labels with selectors: %w", err)
	}
	sub := &watchSub{
		selector: selector,
		projects: map[string]bool{},
		name:     q.GetName(),
		events:   make(chan *v1alpha1.ApplicationWatchEvent, watchBuffer),
		broken:   make(chan error),
	}
	for _, p := range append(append([]string(nil), q.GetProjects()...), q.GetProject()...) {
		sub.projects[p] = true
	}
	if q.GetResourceVersion() != "" {
		sub.minVersion, _ = strconv.Atoi(q.GetResourceVersion())
	}

	s.mu.Lock()
	sub.ns = s.appNamespace(q.GetAppNamespace())
	var initial []*v1alpha1.Application
	if q.GetResourceVersion() == "" || sub.name != "" {
		for _, k := range s.sortedAppKeys() {
			if a := s.apps[k]; sub.matches(a) {
				initial = append(initial, a.DeepCopy())
			}
		}
	}
	h := &s.watch
	if h.subs == nil {
		h.subs = map[*watchSub]bool{}
	}
	if len(h.subs) == 0 {
		h.seen = map[appKey]*v1alpha1.Application{}
		for k, a := range s.apps {
			h.seen[k] = a.DeepCopy()
		}
	}
	h.subs[sub] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(h.subs, sub)
		s.mu.Unlock()
	}()

	for _, a := range initial {
		if err := ws.Send(&v1alpha1.ApplicationWatchEvent{Type: watch.Added, Application: *a}); err != nil {
			return err
		}
	}
	for {
		select {
		case ev := <-sub.events:
			if err := ws.Send(ev); err != nil {
				return err
			}
		case <-sub.broken:
			return sub.reason
		case <-ws.Context().Done():
			return nil
		}
	}
}

func (w *watchSub) matches(a *v1alpha1.Application) bool {
	if len(w.projects) > 0 && !w.projects[a.Spec.GetProject()] {
		return false
	}
	if v, err := strconv.Atoi(a.ResourceVersion); err == nil && v < w.minVersion {
		return false
	}
	return (w.name == "" || (a.Name == w.name && a.Namespace == w.ns)) && w.selector.Matches(labels.Set(a.Labels))
}

func (s *Server) sortedAppKeys() []appKey {
	keys := make([]appKey, 0, len(s.apps))
	for k := range s.apps {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].namespace != keys[j].namespace {
			return keys[i].namespace < keys[j].namespace
		}
		return keys[i].name < keys[j].name
	})
	return keys
}

// publishLocked tells the watchers what changed since they were last told;
// s.mu must be held. It runs after every call and every delayed operation,
// so each write reaches the watchers as its own event.
func (s *Server) publishLocked() {
	h := &s.watch
	if len(h.subs) == 0 {
		return
	}
	for _, k := range s.sortedAppKeys() {
		a := s.apps[k]
		old, ok := h.seen[k]
		switch {
		case !ok:
			h.send(watch.Added, a)
		case !reflect.DeepEqual(old, a):
			h.send(watch.Modified, a)
		default:
			continue
		}
		h.seen[k] = a.DeepCopy()
	}
	for k, old := range h.seen {
		if _, ok := s.apps[k]; !ok {
			h.send(watch.Deleted, old)
			delete(h.seen, k)
		}
	}
}

func (h *watchHub) send(typ watch.EventType, a *v1alpha1.Application) {
	for sub := range h.subs {
		if !sub.matches(a) {
			continue
		}
		select {
		case sub.events <- &v1alpha1.ApplicationWatchEvent{Type: typ, Application: *a.DeepCopy()}:
		default: // argocd-server drops events for a watcher this far behind
		}
	}
}

// FailWatch makes the next n watch streams fail with code before sending
// anything (n < 0: every one until FailWatch(_, 0)), as an Argo CD without
// the stream (Unimplemented), an account without access (PermissionDenied)
// or a restarting server (Unavailable) would.
func (s *Server) FailWatch(code codes.Code, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watch.failCode, s.watch.failN = code, n
}

// BreakWatches ends every open watch stream with Unavailable, as a restart
// of argocd-server or a proxy's idle timeout does.
func (s *Server) BreakWatches() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sub := range s.watch.subs {
		sub.reason = status.Error(codes.Unavailable, "transport is closing (injected by argocdtest)")
		close(sub.broken)
		delete(s.watch.subs, sub)
	}
}

// Watches returns how many watch streams are open.
func (s *Server) Watches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.watch.subs)
}
