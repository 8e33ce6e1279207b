// Package postgresql is the postgres driver of infrastructure golden paths:
// it creates a login role with a generated password and a database owned by
// it on a configured PostgreSQL server, and drops them again.
//
// Which server: a kind may name one (template.server); otherwise, when
// servers are configured with regions, the resource's region parameter picks
// the server of that region, and the kind's published region enum is the
// configured regions; otherwise the server named "default" takes it. The
// server (and region) a resource went to is recorded in its details, and
// everything after provisioning goes to that server only.
//
// Names come from validated resource names and are always quoted as
// identifiers. The password never reaches the server in clear: paved sends a
// SCRAM-SHA-256 verifier, so even statement logging on the server cannot
// reveal it. It leaves paved only in the Outcome's credentials, which the
// infra service seals before storing.
package postgresql

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/infra"
)

// Server is one PostgreSQL server the driver creates databases on.
type Server struct {
	Name string
	// Region is the value of the region parameter this server serves (at
	// most one server per region); empty: the server is only used by name.
	Region string
	// URL connects as a role with CREATEDB and CREATEROLE.
	URL string
	// Host and Port are what developers connect to (default: the URL's).
	Host    string
	Port    int
	SSLMode string
}

// Driver is the postgres driver.
type Driver struct {
	servers  map[string]Server
	byRegion map[string]Server
	regions  []string // sorted
	mu       sync.Mutex
	pools    map[string]*pgxpool.Pool
}

var (
	_ infra.Driver          = (*Driver)(nil)
	_ infra.ParameterShaper = (*Driver)(nil)
	_ infra.Connector       = (*Driver)(nil)
)

// RegionParameter is the kind parameter that picks a server by region.
const RegionParameter = "region"

var regionRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// New returns the driver for servers; it connects on first use. Every
// problem with the servers is reported at once; a URL is never echoed, as it
// holds a password.
func New(servers []Server) (*Driver, error) {
	d := &Driver{servers: map[string]Server{}, byRegion: map[string]Server{}, pools: map[string]*pgxpool.Pool{}}
	var bad []string
	for i, s := range servers {
		if s.Name == "" {
			s.Name = s.Region
		}
		switch _, dup := d.servers[s.Name]; {
		case s.Name == "":
			bad = append(bad, fmt.Sprintf("server %d: a name or a region is required", i))
			continue
		case dup:
			bad = append(bad, fmt.Sprintf("server %q: the name is used twice", s.Name))
			continue
		}
		if s.Region != "" {
			if prev, dup := d.byRegion[s.Region]; dup {
				bad = append(bad, fmt.Sprintf("server %q: region %q is served by %q already", s.Name, s.Region, prev.Name))
			} else if !regionRE.MatchString(s.Region) {
				bad = append(bad, fmt.Sprintf("server %q: region must match %s, got %.64q", s.Name, regionRE, s.Region))
			}
		}
		if s.URL == "" {
			bad = append(bad, fmt.Sprintf("server %q: the URL is empty", s.Name))
			continue
		}
		cfg, err := pgx.ParseConfig(s.URL)
		if err != nil {
			bad = append(bad, fmt.Sprintf("server %q: the URL does not parse", s.Name))
			continue
		}
		if s.Host == "" {
			s.Host = cfg.Host
		}
		if s.Port == 0 {
			s.Port = int(cfg.Port)
		}
		if s.SSLMode == "" {
			s.SSLMode = "prefer"
			if u, err := url.Parse(s.URL); err == nil && u.Query().Get("sslmode") != "" {
				s.SSLMode = u.Query().Get("sslmode")
			}
		}
		d.servers[s.Name] = s
		if _, dup := d.byRegion[s.Region]; s.Region != "" && !dup && regionRE.MatchString(s.Region) {
			d.byRegion[s.Region] = s
			d.regions = append(d.regions, s.Region)
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("postgresql: %s", strings.Join(bad, "; "))
	}
	slices.Sort(d.regions)
	return d, nil
}

// Regions returns the configured regions, sorted.
func (d *Driver) Regions() []string { return slices.Clone(d.regions) }

// Close closes the connections.
func (d *Driver) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.pools {
		p.Close()
	}
}

// Ping checks every server.
func (d *Driver) Ping(ctx context.Context) error {
	for name := range d.servers {
		p, err := d.pool(ctx, name)
		if err != nil {
			return err
		}
		if err := p.Ping(ctx); err != nil {
			return paved.Wrap(paved.EUnavailable, err, "PostgreSQL server %q does not answer", name)
		}
	}
	return nil
}

func (d *Driver) pool(ctx context.Context, name string) (*pgxpool.Pool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p, ok := d.pools[name]; ok {
		return p, nil
	}
	s, ok := d.servers[name]
	if !ok {
		return nil, paved.Errorf(paved.EInternal, "PostgreSQL server %q is not configured", name)
	}
	cfg, err := pgxpool.ParseConfig(s.URL)
	if err != nil {
		return nil, fmt.Errorf("postgresql: server %q: the URL does not parse", name)
	}
	cfg.MaxConns = 4
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, paved.Wrap(paved.EUnavailable, err, "PostgreSQL server %q: cannot connect", name)
	}
	d.pools[name] = p
	return p, nil
}
