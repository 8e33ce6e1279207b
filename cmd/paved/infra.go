package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/metric"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/approval"
	"github.com/paved-dev/paved/argocd"
	"github.com/paved-dev/paved/backstage"
	"github.com/paved-dev/paved/catalog"
	"github.com/paved-dev/paved/config"
	"github.com/paved-dev/paved/costs"
	"github.com/paved-dev/paved/forge"
	"github.com/paved-dev/paved/gitops"
	"github.com/paved-dev/paved/guardrail"
	"github.com/paved-dev/paved/infra"
	"github.com/paved-dev/paved/infra/manifests"
	"github.com/paved-dev/paved/infra/postgresql"
	"github.com/paved-dev/paved/permission"
	"github.com/paved-dev/paved/scaffolder"
	"github.com/paved-dev/paved/server"
	"github.com/paved-dev/paved/sqlstore"
	"github.com/paved-dev/paved/ttlnotice"
)

// infraWiring is GitOps mode and the infrastructure golden paths, built
// from the configuration.
type infraWiring struct {
	gitops      gitops.Writer
	prs         scaffolder.PullRequests
	actions     []scaffolder.Action
	connections server.InfraConnections
	resources   server.InfraResources
	catalog     catalog.InfraLister
	costs       server.Costs
	approvals   server.Approvals
	// appApprovals holds back the Argo CD applications a rule names; nil: none.
	appApprovals scaffolder.AppApprovals
	ready        []server.Check
	stop         func()
	// permissionResources load resources for the permission backend's apply-conditions.
	permissionResources map[string]permission.Resources
}

// newSealer returns the sealer of everything paved keeps secret at rest (the
// credentials of provisioned resources, the private signing keys): the
// configured infra key, or the one generated into the data directory.
func newSealer(cfg config.Config) (*infra.Sealer, error) {
	key, err := infra.LoadKey(cfg.Infra.EncryptionKey, cfg.Infra.KeyFile)
	if err != nil {
		return nil, err
	}
	return infra.NewSealer(key)
}

// newInfra opens the GitOps repository (creating the embedded one under the
// data directory when none is configured), loads the golden paths, and
// starts the reaper, which runs until stop.
func newInfra(ctx context.Context, cfg config.Config, store *sqlstore.DB, argo approval.Apps, signer *backstage.Signer, sealer *infra.Sealer, guards *guardrail.Set, meter metric.Meter, logger *slog.Logger) (*infraWiring, error) {
	g := cfg.GitOps
	logger = logger.With("component", "infra")
	url := g.URL
	if url == "" {
		var err error
		if url, err = gitops.InitBare(g.EmbeddedRepo(cfg.DataDir)); err != nil {
			return nil, err
		}
	}
	repo, err := gitops.Open(gitops.Config{
		URL: url, Branch: g.Branch, Username: g.Username, Token: g.Token,
		SSHKeyFile: g.SSHKeyFile, SSHKeyPassphrase: g.SSHKeyPassphrase, SSHKnownHostsFile: g.SSHKnownHostsFile,
		AuthorName: g.AuthorName, AuthorEmail: g.AuthorEmail, CompareURL: g.CompareURL, CacheDir: g.CacheDir, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	repoURL := g.RepoURL
	if repoURL == "" {
		repoURL = repo.URL()
	}
	w := &infraWiring{
		gitops: gitops.Writer{Repo: repo, Render: argocd.Manifests{}, AppsPath: g.AppsPath, DefaultProject: g.DefaultProject, Namespace: g.AppNamespace, Review: g.Review},
		stop:   func() {},
	}
	if pr := g.PullRequests; pr.Kind != "" {
		kind := pr.Kind
		if kind == "forgejo" {
			kind = forge.Gitea
		}
		client, err := forge.New(forge.Config{Kind: kind, APIURL: pr.APIURL, Repo: pr.Repo, Token: pr.Token})
		if err != nil {
			return nil, fmt.Errorf("gitops.pullRequests: %w", err)
		}
		w.prs = client
		// Asking again for the same application updates its pull request.
		w.gitops.StableBranch = true
	}

	drivers := map[string]infra.Driver{"manifests": manifests.New(manifests.Options{
		Repo: repo, RepoURL: repoURL, Branch: g.Branch, InfraPath: g.InfraPath, AppsPath: g.AppsPath,
		DefaultProject: g.DefaultProject, Namespace: g.AppNamespace, Review: g.Review, Render: argocd.Manifests{},
	})}
	if len(cfg.Infra.Postgres) > 0 {
		servers := make([]postgresql.Server, 0, len(cfg.Infra.Postgres))
		for _, s := range cfg.Infra.Postgres {
			servers = append(servers, postgresql.Server{Name: s.Name, Region: s.Region, URL: s.URL, Host: s.Host, Port: s.Port, SSLMode: s.SSLMode})
		}
		pg, err := postgresql.New(servers)
		if err != nil {
			return nil, err
		}
		drivers["postgres"] = pg
		if regions := pg.Regions(); len(regions) > 0 {
			logger.Info("postgres driver: the region parameter picks the server", "regions", strings.Join(regions, ","))
		}
		w.ready = append(w.ready, server.Check{Name: "infra/postgres", Check: pg.Ping, Optional: true})
		defer func() { w.stop = chain(w.stop, pg.Close) }()
	}

	kinds, skipped, err := infra.LoadKinds(cfg.Infra.KindsDir, drivers)
	switch {
	case errors.Is(err, os.ErrNotExist) && cfg.Infra.KindsDir == config.DefaultInfraKindsDir:
		logger.Info("no infrastructure golden paths: the default kinds directory is not here", "dir", cfg.Infra.KindsDir)
	case err != nil:
		return nil, err
	}
	if len(skipped) > 0 {
		logger.Warn("infrastructure kinds skipped", "kinds", strings.Join(skipped, "; "))
	}
	budgets, err := costBudgets(cfg.Infra.Budgets, kinds)
	if err != nil {
		return nil, err
	}
	ledger := &costs.Ledger{Store: store, Budgets: budgets}
	membership := backstage.NewCatalogClient(backstage.NewDiscovery(cfg.Backstage.Discovery, cfg.Backstage.Endpoints), signer, nil)
	svc, err := infra.NewService(infra.Options{
		Kinds: kinds, Drivers: drivers, Store: store, Sealer: sealer, Membership: membership,
		MaxTTL: cfg.Infra.MaxTTL.D(), Leases: store, Costs: ledger, Logger: logger, Guardrails: guards,
		TTLNotices: cfg.Infra.TTLNotice.D() > 0,
	})
	if err != nil {
		return nil, err
	}
	if err := costs.RegisterGauge(meter, store, logger); err != nil {
		return nil, err
	}
	w.costs = &costs.Reporter{Store: store, Budgets: budgets}
	approvals, err := newApprovals(cfg, store, svc, argo, membership, signer, logger)
	if err != nil {
		return nil, err
	}
	actionOpts := scaffolder.InfraActionsOptions{Infra: svc, ConnectionURL: scaffolder.InfraConnectionURL(cfg.BaseURL, cfg.PluginID)}
	if approvals != nil {
		actionOpts.Approvals, w.approvals, w.appApprovals = approvals, approvals, approvals
	}
	w.actions = scaffolder.InfraActions(actionOpts)
	w.connections, w.resources = svc, svc
	w.permissionResources = map[string]permission.Resources{paved.ResourceInfra: svc}
	w.catalog = infraLister{store: store, kinds: kinds}
	logger.Info("infrastructure golden paths loaded", "kinds", len(kinds), "gitops", gitops.Redact(url), "branch", g.Branch)

	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		svc.RunReaper(rctx, store, leaseHolder(), cfg.Infra.ReapInterval.D())
	})
	wg.Go(func() {
		costs.Reconciler{Store: store, Infra: svc, Logger: logger}.Run(rctx, cfg.Infra.ReapInterval.D())
	})
	if approvals != nil {
		wg.Go(func() { approvals.Run(rctx, cfg.Approvals.SweepInterval.D()) })
	}
	if before := cfg.Infra.TTLNotice.D(); before > 0 {
		app := cfg.Approvals.AppURL
		notices, err := ttlnotice.NewSender(ttlnotice.Options{
			Before: before, Store: store, Notifier: newNotifier(cfg, signer), Logger: logger.With("component", "ttl-notices"),
			Resource:  func(id string) string { return app + "/paved/resources/" + id },
			Resources: app + "/paved",
		})
		if err != nil {
			cancel()
			wg.Wait()
			return nil, err
		}
		logger.Info("TTL notices on", "before", before.String())
		wg.Go(func() { notices.Run(rctx, cfg.Infra.ReapInterval.D()) })
	}
	w.stop = chain(w.stop, func() { cancel(); wg.Wait() })
	return w, nil
}

// newApprovals returns the approval service when approval rules are
// configured (nil otherwise): notifications go through Backstage's
// notifications backend with paved's plugin token, and link to the request
// page of paved's frontend plugin, to the Resource entity and to an approved
// application in Argo CD's UI.
func newApprovals(cfg config.Config, store *sqlstore.DB, svc *infra.Service, argo approval.Apps, membership approval.Membership, signer *backstage.Signer, logger *slog.Logger) (*approval.Service, error) {
	a := cfg.Approvals
	if len(a.Rules) == 0 {
		return nil, nil
	}
	app := a.AppURL
	svc2, err := approval.NewService(approval.Options{
		Rules: a.DomainRules(), ExpireAfter: a.ExpireAfter.D(), Store: store, Infra: svc, Apps: argo, Membership: membership,
		Notifier: newNotifier(cfg, signer), Leases: store, Logger: logger.With("component", "approvals"),
		Links: approval.Links{
			Request:  func(id string) string { return app + "/paved/approvals/" + id },
			Resource: func(r infra.Resource) string { return app + "/catalog/default/resource/" + r.Name },
		},
	})
	if err != nil {
		return nil, err
	}
	logger.Info("approval rules loaded", "rules", len(a.Rules), "expireAfter", a.ExpireAfter.D().String())
	return svc2, nil
}

// newNotifier returns the client of Backstage's notifications backend, which
// paved calls with its plugin token.
func newNotifier(cfg config.Config, signer *backstage.Signer) *backstage.NotificationsClient {
	return backstage.NewNotificationsClient(backstage.NewDiscovery(cfg.Backstage.Discovery, cfg.Backstage.Endpoints), signer, nil)
}

func chain(a, b func()) func() { return func() { b(); a() } }

// costBudgets turns the configured budgets into the ledger's, refusing kinds
// priced in another currency than the budgets'.
func costBudgets(b config.InfraBudgets, kinds []infra.Kind) (costs.Budgets, error) {
	out := costs.Budgets{Currency: b.Currency, Default: b.Default, OverBudget: b.OverBudget, Teams: map[string]float64{}}
	if out.OverBudget == "" {
		out.OverBudget = costs.OverBudgetRefuse
	}
	for team, v := range b.Teams {
		out.Teams[config.TeamRef(team)] = v
	}
	if !b.Set() {
		return out, nil
	}
	var bad []string
	for _, k := range kinds {
		if k.Price != nil && k.Price.Currency != b.Currency {
			bad = append(bad, fmt.Sprintf("kind %s is priced in %s, budgets are in %s", k.Name, k.Price.Currency, b.Currency))
		}
	}
	if len(bad) > 0 {
		return costs.Budgets{}, errors.New(strings.Join(bad, "; "))
	}
	return out, nil
}

// infraLister gives the catalog a Resource per provisioned resource.
type infraLister struct {
	store *sqlstore.DB
	kinds []infra.Kind
}

var _ catalog.InfraLister = infraLister{}

func (l infraLister) ListInfra(ctx context.Context) ([]catalog.Infra, error) {
	resources, err := l.store.ListInfraResources(ctx)
	if err != nil {
		return nil, err
	}
	types := map[string]infra.Kind{}
	for _, k := range l.kinds {
		types[k.Name] = k
	}
	out := make([]catalog.Infra, 0, len(resources))
	for _, r := range resources {
		k := types[r.Kind]
		typ := k.Type
		if typ == "" {
			typ = "infrastructure"
		}
		ci := catalog.Infra{
			ID: r.ID, Name: r.Name, Type: typ, Owner: r.Owner, Status: r.Status, EntityRef: r.EntityRef,
			Description: fmt.Sprintf("%s provisioned by paved", orKind(k.Title, r.Kind)),
		}
		if c, ok := k.MonthlyCost(r.Parameters); ok {
			ci.CostMonthly = infra.FormatMoney(c.Monthly) + " " + c.Currency
		}
		out = append(out, ci)
	}
	return out, nil
}

func orKind(title, kind string) string {
	if title != "" {
		return title
	}
	return kind
}

// entityOwners reads an entity's spec.owner from Backstage's catalog.
type entityOwners struct{ c *backstage.CatalogClient }

var _ server.EntityOwners = entityOwners{}

func (o entityOwners) EntityOwner(ctx context.Context, ref string) (string, error) {
	e, err := o.c.GetEntityByRef(ctx, ref)
	if err != nil {
		return "", err
	}
	owner, _ := e.Spec["owner"].(string)
	return owner, nil
}
