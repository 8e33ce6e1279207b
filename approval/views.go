package approval

import (
	"context"
	"strings"

	"github.com/paved-dev/paved"
)

// Get returns a request with its audit trail to a caller who may read it:
// its requester, a member of its approvers, or (checked by the route) a
// holder of paved.approval.read.
func (s *Service) Get(ctx context.Context, id string) (View, error) {
	r, err := s.o.Store.GetApproval(ctx, id)
	if err != nil {
		return View{}, err
	}
	events, err := s.o.Store.ApprovalEvents(ctx, id)
	if err != nil {
		return View{}, err
	}
	return s.view(ctx, r, events)
}

// List returns requests, newest first, with what the caller may do on each.
func (s *Service) List(ctx context.Context, f Filter) ([]View, error) {
	list, err := s.o.Store.ListApprovals(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]View, 0, len(list))
	for _, r := range list {
		v, err := s.view(ctx, r, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// View is a request as the page shows it.
type View struct {
	Request
	// URL is the request's page in Backstage.
	URL string `json:"url,omitempty"`
	// CanDecide: the caller may approve or reject it now.
	CanDecide bool    `json:"canDecide"`
	Events    []Event `json:"events,omitempty"`
}

func (s *Service) view(ctx context.Context, r Request, events []Event) (View, error) {
	v := View{Request: r, URL: s.o.Links.Request(r.ID), Events: events}
	if p, _ := paved.PrincipalFrom(ctx); r.State == StatePending && p.Kind == paved.PrincipalUser && !strings.EqualFold(p.User, r.Requester) {
		ok, err := s.member(ctx, strings.ToLower(p.User), r.Approvers)
		if err != nil {
			return View{}, err
		}
		v.CanDecide = ok
	}
	return v, nil
}
