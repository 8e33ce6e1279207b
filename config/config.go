// Package config reads paved's one configuration: a YAML file with ${ENV}
// substitution, PAVED_* environment overrides and defaults that let paved
// start with no file at all.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is paved's whole configuration.
type Config struct {
	PluginID string `yaml:"pluginId"`
	Listen   string `yaml:"listen"`
	// BaseURL is how people and Backstage reach paved from outside, used in links
	// paved returns (default http://<listen>).
	BaseURL string `yaml:"baseUrl"`
	DataDir string `yaml:"dataDir"`

	Log       Log       `yaml:"log"`
	Backstage Backstage `yaml:"backstage"`
	Auth      Auth      `yaml:"auth"`
	Database  Database  `yaml:"database"`
	ArgoCD    ArgoCD    `yaml:"argocd"`
	Limits    Limits    `yaml:"limits"`
	Telemetry Telemetry `yaml:"telemetry"`
	Catalog   Catalog   `yaml:"catalog"`
	DevEx     DevEx     `yaml:"devex"`
	GitOps    GitOps    `yaml:"gitops"`
	Infra     Infra     `yaml:"infra"`
	// Permission says who may do what.
	Permission Permission `yaml:"permission"`
	Audit      Audit      `yaml:"audit"`
	Guardrails Guardrails `yaml:"guardrails"`
	Approvals  Approvals  `yaml:"approvals"`
}

// Log configures the process log.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // text | json
}

// Backstage tells paved where Backstage's plugins live.
type Backstage struct {
	// Discovery is the base URL pattern of Backstage plugins, with {{pluginId}}.
	Discovery string `yaml:"discovery"`
	// Endpoints overrides the pattern for single plugins (pluginId → base URL).
	Endpoints map[string]string `yaml:"endpoints"`
	// AllowedPlugins may call paved's actions with their plugin tokens.
	AllowedPlugins []string `yaml:"allowedPlugins"`
	// AuthPluginID is the plugin whose JWKS verifies user tokens.
	AuthPluginID string `yaml:"authPluginId"`
}

// Auth configures how callers authenticate and how paved signs its own tokens.
type Auth struct {
	StaticTokens []StaticToken `yaml:"staticTokens"`
	// LocalTokenFile holds a token paved generates for the local CLI when no
	// static token is configured ("" = <dataDir>/local-token, "-" = none).
	LocalTokenFile string `yaml:"localTokenFile"`
	// TokenTTL is the lifetime of the plugin tokens paved signs.
	TokenTTL Duration `yaml:"tokenTTL"`
	// Leeway is the clock skew allowed when checking exp and iat.
	Leeway Duration `yaml:"leeway"`
}

// StaticToken is an external access token accepted by paved.
type StaticToken struct {
	Token   string `yaml:"token"`
	Subject string `yaml:"subject"`
}

// Database selects the store: PostgreSQL when URL is set, SQLite otherwise.
type Database struct {
	URL        string `yaml:"url"`
	SQLitePath string `yaml:"sqlitePath"`
}

// Engine is "postgres" or "sqlite".
func (d Database) Engine() string {
	if d.URL != "" {
		return "postgres"
	}
	return "sqlite"
}

// ArgoCD lists the Argo CD instances paved may talk to.
type ArgoCD struct {
	Instances []ArgoCDInstance `yaml:"instances"`
}

// ArgoCDInstance is one Argo CD server.
type ArgoCDInstance struct {
	Name           string   `yaml:"name"`
	Server         string   `yaml:"server"`
	UIURL          string   `yaml:"uiUrl"`
	Token          string   `yaml:"token"`
	Username       string   `yaml:"username"`
	Password       string   `yaml:"password"`
	Insecure       bool     `yaml:"insecure"`
	PlainText      bool     `yaml:"plainText"`
	GRPCWeb        bool     `yaml:"grpcWeb"`
	DefaultProject string   `yaml:"defaultProject"`
	AppNamespace   string   `yaml:"appNamespace"`
	Timeout        Duration `yaml:"timeout"`
}

// Limits bound what a caller can make paved do.
type Limits struct {
	MaxBodyBytes int64    `yaml:"maxBodyBytes"`
	MaxWait      Duration `yaml:"maxWait"`
	// BodyTimeout is how long a client may take to send a request body.
	BodyTimeout Duration `yaml:"bodyTimeout"`
	// CallerWait bounds one call's in-step wait by the calling plugin's id,
	// below the client's own request timeout: Backstage's MCP actions plugin
	// answers an agent whose client gives up after 60 s. Past it the call
	// answers waitStatus "progressing" instead of waiting for nobody.
	CallerWait map[string]Duration `yaml:"callerWait"`
}

// Telemetry configures OpenTelemetry; OTLP push is enabled by the standard
// OTEL_EXPORTER_OTLP_* environment variables.
type Telemetry struct {
	ServiceName string `yaml:"serviceName"`
}

// Duration is a time.Duration written as "30s" or "5m" in YAML.
type Duration time.Duration

// UnmarshalYAML accepts Go duration strings.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 30s or 5m", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Default returns the configuration paved runs with when nothing is set.
func Default() Config {
	return Config{
		PluginID: "paved",
		Listen:   "127.0.0.1:7010",
		DataDir:  ".data",
		Log:      Log{Level: "info", Format: "text"},
		Backstage: Backstage{
			Discovery:      "http://127.0.0.1:7007/api/{{pluginId}}",
			AllowedPlugins: []string{"scaffolder", "mcp-actions", "catalog", "permission"},
			AuthPluginID:   "auth",
		},
		Auth: Auth{TokenTTL: Duration(time.Hour), Leeway: Duration(30 * time.Second)},
		Limits: Limits{MaxBodyBytes: 1 << 20, MaxWait: Duration(30 * time.Minute), BodyTimeout: Duration(30 * time.Second),
			CallerWait: map[string]Duration{"mcp-actions": Duration(50 * time.Second)}},
		Telemetry:  Telemetry{ServiceName: "paved"},
		Catalog:    DefaultCatalog(),
		DevEx:      DefaultDevEx(),
		GitOps:     DefaultGitOps(),
		Infra:      DefaultInfra(),
		Approvals:  DefaultApprovals(),
		Permission: DefaultPermission(),
		Audit:      DefaultAudit(),
	}
}

// Load builds the configuration: defaults, then the file named by PAVED_CONFIG
// or path (if any), then PAVED_* overrides. It returns every problem at once.
func Load(path string, getenv func(string) string) (Config, error) {
	cfg := Default()
	if p := getenv("PAVED_CONFIG"); p != "" && path == "" {
		path = p
	}
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		if err := parse(raw, getenv, &cfg); err != nil {
			return cfg, fmt.Errorf("config %s: %w", filepath.Base(path), err)
		}
	}
	applyEnv(&cfg, getenv)
	cfg.fillDerived()
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func parse(raw []byte, getenv func(string) string, cfg *Config) error {
	expanded, err := expand(raw, getenv)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(expanded))
	dec.KnownFields(true)
	// An empty file means "no settings".
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expand replaces ${VAR} and ${VAR:-default}; an unset VAR without a default
// is an error, so a missing secret never silently becomes "".
func expand(raw []byte, getenv func(string) string) ([]byte, error) {
	var missing []string
	out := envRef.ReplaceAllFunc(raw, func(m []byte) []byte {
		g := envRef.FindSubmatch(m)
		name := string(g[1])
		if v := getenv(name); v != "" {
			return []byte(yamlScalar(v))
		}
		if len(g[2]) > 0 {
			return g[3]
		}
		missing = append(missing, name)
		return nil
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("environment variables not set: %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// yamlScalar keeps a substituted value a plain string even when it holds YAML
// syntax (a password with ": " or "#").
func yamlScalar(v string) string {
	if strings.ContainsAny(v, ":#{}[],&*!|>'\"%@`\n") || strings.TrimSpace(v) != v {
		b, _ := yaml.Marshal(v)
		return strings.TrimSuffix(string(b), "\n")
	}
	return v
}

func applyEnv(cfg *Config, getenv func(string) string) {
	set := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	set("PAVED_PLUGIN_ID", &cfg.PluginID)
	set("PAVED_LISTEN", &cfg.Listen)
	set("PAVED_BASE_URL", &cfg.BaseURL)
	set("PAVED_DATA_DIR", &cfg.DataDir)
	set("PAVED_DATABASE_URL", &cfg.Database.URL)
	set("PAVED_BACKSTAGE_DISCOVERY", &cfg.Backstage.Discovery)
	set("PAVED_LOG_LEVEL", &cfg.Log.Level)
	set("PAVED_LOG_FORMAT", &cfg.Log.Format)
	if v := getenv("PAVED_STATIC_TOKEN"); v != "" {
		cfg.Auth.StaticTokens = append(cfg.Auth.StaticTokens, StaticToken{Token: v, Subject: "env"})
	}
	if v := getenv("OTEL_SERVICE_NAME"); v != "" {
		cfg.Telemetry.ServiceName = v
	}
	cfg.GitOps.applyEnv(getenv)
	cfg.Infra.applyEnv(getenv)
}

func (c *Config) fillDerived() {
	if c.BaseURL == "" && c.Listen != "" {
		c.BaseURL = "http://" + c.Listen
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.Database.URL == "" && c.Database.SQLitePath == "" && c.DataDir != "" {
		c.Database.SQLitePath = filepath.Join(c.DataDir, "paved.db")
	}
	if c.Auth.LocalTokenFile == "" && c.DataDir != "" {
		c.Auth.LocalTokenFile = filepath.Join(c.DataDir, "local-token")
	}
	c.GitOps.fill(c.DataDir)
	c.Infra.fill(c.DataDir)
	c.DevEx.fillSLODefaults()
	c.Approvals.fill()
	for i := range c.ArgoCD.Instances {
		in := &c.ArgoCD.Instances[i]
		if in.DefaultProject == "" {
			in.DefaultProject = "default"
		}
		if in.Timeout == 0 {
			in.Timeout = Duration(30 * time.Second)
		}
	}
}

var pluginIDPattern = regexp.MustCompile(`^[a-z0-9_-]+$`)

// Validate returns every problem of the configuration in one error.
func (c Config) Validate() error {
	var p problems
	if !pluginIDPattern.MatchString(c.PluginID) {
		p.add("pluginId", "must match ^[a-z0-9_-]+$, got %q", c.PluginID)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		p.add("listen", "must be host:port, got %q", c.Listen)
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add("baseUrl", "must be an http(s) URL, got %q", c.BaseURL)
	}
	if c.DataDir == "" {
		p.add("dataDir", "must not be empty")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		p.add("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		p.add("log.format", "must be text or json, got %q", c.Log.Format)
	}
	if !strings.Contains(c.Backstage.Discovery, "{{pluginId}}") && !strings.Contains(c.Backstage.Discovery, "{{ pluginId }}") {
		p.add("backstage.discovery", "must contain {{pluginId}}, got %q", c.Backstage.Discovery)
	} else if u, err := url.Parse(strings.NewReplacer("{{pluginId}}", "x", "{{ pluginId }}", "x").Replace(c.Backstage.Discovery)); err != nil || u.Host == "" {
		p.add("backstage.discovery", "must be an http(s) URL pattern, got %q", c.Backstage.Discovery)
	}
	for id, base := range c.Backstage.Endpoints {
		if u, err := url.Parse(base); err != nil || u.Host == "" {
			p.add("backstage.endpoints."+id, "must be a URL, got %q", base)
		}
	}
	for i, id := range c.Backstage.AllowedPlugins {
		if !pluginIDPattern.MatchString(id) {
			p.add(fmt.Sprintf("backstage.allowedPlugins[%d]", i), "must match ^[a-z0-9_-]+$, got %q", id)
		}
	}
	for i, t := range c.Auth.StaticTokens {
		if len(t.Token) < 16 {
			p.add(fmt.Sprintf("auth.staticTokens[%d].token", i), "must be at least 16 characters")
		}
		if t.Subject == "" {
			p.add(fmt.Sprintf("auth.staticTokens[%d].subject", i), "must not be empty")
		}
	}
	if c.Auth.TokenTTL.D() < time.Minute {
		p.add("auth.tokenTTL", "must be at least 1m")
	}
	if c.Auth.Leeway.D() < 0 || c.Auth.Leeway.D() > 5*time.Minute {
		p.add("auth.leeway", "must be between 0 and 5m")
	}
	if c.Database.URL != "" {
		if u, err := url.Parse(c.Database.URL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			p.add("database.url", "must be a postgres:// URL")
		}
	}
	seen := map[string]bool{}
	for i, in := range c.ArgoCD.Instances {
		f := fmt.Sprintf("argocd.instances[%d]", i)
		if !pluginIDPattern.MatchString(in.Name) {
			p.add(f+".name", "must match ^[a-z0-9_-]+$, got %q", in.Name)
		} else if seen[in.Name] {
			p.add(f+".name", "duplicate instance name %q", in.Name)
		}
		seen[in.Name] = true
		if in.Server == "" {
			p.add(f+".server", "must not be empty")
		}
		if in.Token == "" && (in.Username == "" || in.Password == "") {
			p.add(f, "needs a token or a username and password")
		}
		if in.Token != "" && in.Username != "" {
			p.add(f, "set either token or username/password, not both")
		}
		if in.UIURL != "" {
			if u, err := url.Parse(in.UIURL); err != nil || u.Host == "" {
				p.add(f+".uiUrl", "must be a URL, got %q", in.UIURL)
			}
		}
	}
	if c.Limits.MaxBodyBytes < 1024 {
		p.add("limits.maxBodyBytes", "must be at least 1024")
	}
	if c.Limits.MaxWait.D() <= 0 {
		p.add("limits.maxWait", "must be positive")
	}
	if c.Limits.BodyTimeout.D() <= 0 {
		p.add("limits.bodyTimeout", "must be positive")
	}
	for _, id := range slices.Sorted(maps.Keys(c.Limits.CallerWait)) {
		if !pluginIDPattern.MatchString(id) {
			p.add("limits.callerWait", "%q is not a Backstage plugin id", id)
		}
		if c.Limits.CallerWait[id].D() <= 0 {
			p.add("limits.callerWait."+id, "must be positive")
		}
	}
	c.Catalog.validate(&p, c.ArgoCD)
	c.DevEx.validate(&p)
	c.GitOps.validate(&p)
	c.Infra.validate(&p)
	c.Audit.validate(&p)
	c.Guardrails.validate(&p)
	c.Approvals.validate(&p, c.Infra.Budgets)
	return p.err()
}

type problems []string

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, field+": "+fmt.Sprintf(format, args...))
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &Problems{List: p}
}

// Problems lists everything wrong with a configuration.
type Problems struct{ List []string }

func (p *Problems) Error() string {
	return fmt.Sprintf("invalid configuration (%d problems):\n  - %s", len(p.List), strings.Join(p.List, "\n  - "))
}

// Masked returns the configuration as YAML with every secret replaced, for
// printing at start.
func (c Config) Masked() string {
	m := c
	m.Auth.StaticTokens = append([]StaticToken(nil), c.Auth.StaticTokens...)
	for i := range m.Auth.StaticTokens {
		m.Auth.StaticTokens[i].Token = mask(m.Auth.StaticTokens[i].Token)
	}
	m.ArgoCD.Instances = append([]ArgoCDInstance(nil), c.ArgoCD.Instances...)
	for i := range m.ArgoCD.Instances {
		m.ArgoCD.Instances[i].Token = mask(m.ArgoCD.Instances[i].Token)
		m.ArgoCD.Instances[i].Password = mask(m.ArgoCD.Instances[i].Password)
	}
	m.Database.URL = MaskURL(c.Database.URL)
	m.GitOps, m.Infra = c.GitOps.masked(), c.Infra.masked()
	b, err := yaml.Marshal(m)
	if err != nil {
		return "<unprintable configuration>"
	}
	return string(b)
}

func mask(s string) string {
	if s == "" {
		return ""
	}
	return "********"
}

// MaskURL hides the password of a URL such as a PostgreSQL DSN.
func MaskURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return "********"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// CallerWaits returns CallerWait as durations.
func (l Limits) CallerWaits() map[string]time.Duration {
	m := make(map[string]time.Duration, len(l.CallerWait))
	for id, d := range l.CallerWait {
		m[id] = d.D()
	}
	return m
}
