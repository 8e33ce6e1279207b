package config

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Infra configures infrastructure golden paths.
type Infra struct {
	// KindsDir holds one YAML file per kind (default examples/infra-kinds,
	// skipped when it does not exist).
	KindsDir string `yaml:"kindsDir"`
	// EncryptionKey (base64, 32 bytes) seals stored credentials; PAVED_INFRA_KEY
	// sets it. Without one, a key is generated into KeyFile on first start.
	EncryptionKey string `yaml:"encryptionKey"`
	KeyFile       string `yaml:"keyFile"`
	// ReapInterval is how often expired resources are looked for (one replica reaps).
	ReapInterval Duration `yaml:"reapInterval"`
	// MaxTTL bounds the ttl a request may ask for.
	MaxTTL Duration `yaml:"maxTTL"`
	// TTLNotice is how long before a resource's TTL ends its owner is
	// notified through Backstage's notifications (once per TTL), and makes
	// the reaper notify the owner of each teardown; 0 (the default) sends
	// no TTL notices.
	TTLNotice Duration `yaml:"ttlNotice"`
	// Postgres lists the servers the postgres driver creates databases on;
	// PAVED_INFRA_POSTGRES_URL sets the admin URL of the one named "default".
	// Servers with a region serve the kinds whose region parameter picks
	// one; a single server without a region serves every request (the form
	// paved started with).
	Postgres []InfraPostgres `yaml:"postgres"`
	// Budgets bound what each owner team's resources may cost per month.
	Budgets InfraBudgets `yaml:"budgets"`
}

// InfraBudgets are the teams' monthly budgets for priced golden paths.
type InfraBudgets struct {
	// Currency of every budget; kinds priced in another currency are refused
	// at start when budgets are set.
	Currency string `yaml:"currency"`
	// Default is the budget of a team without its own (0: none).
	Default float64 `yaml:"default"`
	// Teams are budgets by group: "payments" or "group:default/payments".
	Teams map[string]float64 `yaml:"teams"`
	// OverBudget is what happens to a request that would exceed its team's
	// budget: refuse (a 403 naming the budget, the default) or approval.
	OverBudget string `yaml:"overBudget"`
}

// Set reports whether any budget is configured.
func (b InfraBudgets) Set() bool { return b.Default > 0 || len(b.Teams) > 0 }

// TeamRef is a budget key as a group entity ref.
func TeamRef(team string) string {
	team = strings.ToLower(strings.TrimSpace(team))
	if !strings.Contains(team, ":") {
		team = "group:" + team
	}
	if !strings.Contains(team, "/") {
		kind, name, _ := strings.Cut(team, ":")
		team = kind + ":default/" + name
	}
	return team
}

var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

// InfraPostgres is one PostgreSQL server of the postgres driver.
type InfraPostgres struct {
	// Name identifies the server in resource records (default: the region);
	// renaming it orphans what was provisioned on it.
	Name string `yaml:"name"`
	// Region is the value of a kind's region parameter this server serves;
	// each region has at most one server.
	Region string `yaml:"region,omitempty"`
	// URL connects as a role with CREATEDB and CREATEROLE.
	URL string `yaml:"url"`
	// Host and Port are what developers connect to (default: the URL's).
	Host    string `yaml:"host"`
	Port    int    `yaml:"port"`
	SSLMode string `yaml:"sslMode"`
}

// DefaultInfraKindsDir is where the example golden paths are.
const DefaultInfraKindsDir = "examples/infra-kinds"

// DefaultInfra is the infra configuration paved starts with.
func DefaultInfra() Infra {
	return Infra{KindsDir: DefaultInfraKindsDir, ReapInterval: Duration(time.Minute), MaxTTL: Duration(90 * 24 * time.Hour)}
}

func (in *Infra) applyEnv(getenv func(string) string) {
	if v := getenv("PAVED_INFRA_KEY"); v != "" {
		in.EncryptionKey = v
	}
	if v := getenv("PAVED_INFRA_POSTGRES_URL"); v != "" {
		for i := range in.Postgres {
			if in.Postgres[i].Name == "default" {
				in.Postgres[i].URL = v
				return
			}
		}
		in.Postgres = append(in.Postgres, InfraPostgres{Name: "default", URL: v})
	}
}

func (in *Infra) fill(dataDir string) {
	if in.KeyFile == "" && dataDir != "" {
		in.KeyFile = filepath.Join(dataDir, "infra-key")
	}
	for i := range in.Postgres {
		if in.Postgres[i].Name == "" {
			in.Postgres[i].Name = in.Postgres[i].Region
		}
	}
}

// RegionPattern is what a region name must match: it becomes an enum value
// of a published schema and part of error messages, so it stays plain.
const RegionPattern = `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`

var regionRE = regexp.MustCompile(RegionPattern)

func (in Infra) validate(p *problems) {
	b := in.Budgets
	if b.Set() && !currencyRE.MatchString(b.Currency) {
		p.add("infra.budgets.currency", "must be an ISO 4217 code such as USD when budgets are set, got %.16q", b.Currency)
	}
	if b.Default < 0 {
		p.add("infra.budgets.default", "must not be negative")
	}
	for team, v := range b.Teams {
		if v < 0 {
			p.add("infra.budgets.teams."+team, "must not be negative")
		}
		if !strings.HasPrefix(TeamRef(team), "group:") {
			p.add("infra.budgets.teams."+team, "must name a group (payments or group:default/payments)")
		}
	}
	switch b.OverBudget {
	case "", "refuse", "approval":
	default:
		p.add("infra.budgets.overBudget", "must be refuse or approval, got %.32q", b.OverBudget)
	}
	if in.ReapInterval.D() < time.Second {
		p.add("infra.reapInterval", "must be at least 1s")
	}
	if in.MaxTTL.D() <= 0 {
		p.add("infra.maxTTL", "must be positive")
	}
	if in.TTLNotice.D() < 0 {
		p.add("infra.ttlNotice", "must be 0 (no notices) or positive")
	}
	names, regions := map[string]int{}, map[string]int{}
	for i, s := range in.Postgres {
		f := fmt.Sprintf("infra.postgres[%d]", i)
		switch prev, dup := names[s.Name]; {
		case s.Name == "":
			p.add(f+".name", "is required when the server has no region")
		case !pluginIDPattern.MatchString(s.Name):
			p.add(f+".name", "must be made of [a-z0-9_-], got %q", s.Name)
		case dup:
			p.add(f+".name", "duplicate of infra.postgres[%d] (%q)", prev, s.Name)
		default:
			names[s.Name] = i
		}
		if s.Region != "" {
			switch prev, dup := regions[s.Region]; {
			case !regionRE.MatchString(s.Region):
				p.add(f+".region", "must match %s, got %.64q", RegionPattern, s.Region)
			case dup:
				p.add(f+".region", "duplicate of infra.postgres[%d]: region %q has one server", prev, s.Region)
			default:
				regions[s.Region] = i
			}
		}
		if s.URL == "" {
			p.add(f+".url", "must not be empty (the admin DSN, e.g. ${PG_ADMIN_URL})")
		}
		if s.Port < 0 || s.Port > 65535 {
			p.add(f+".port", "must be a TCP port")
		}
	}
}

func (in Infra) masked() Infra {
	in.EncryptionKey = mask(in.EncryptionKey)
	in.Postgres = append([]InfraPostgres(nil), in.Postgres...)
	for i := range in.Postgres {
		in.Postgres[i].URL = MaskURL(in.Postgres[i].URL)
	}
	return in
}
