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
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"gopkg.in/yaml.v3"

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

// spec is the template section of a postgres kind.
type spec struct {
	// Server pins the kind to one configured server; the region parameter
	// then picks nothing. Empty: by region when servers have regions, else
	// the server named "default".
	Server string `yaml:"server"`
	// ConnectionLimit maps a value of the size parameter to the role's
	// connection limit; sizes not listed are unlimited.
	ConnectionLimit map[string]int `yaml:"connectionLimit"`
}

func decodeSpec(k infra.Kind) (spec, error) {
	var s spec
	raw, err := yaml.Marshal(k.Template)
	if err != nil {
		return s, err
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return s, err
	}
	return s, nil
}

// regional reports whether the kind's region parameter picks its server.
func (d *Driver) regional(sp spec) bool { return sp.Server == "" && len(d.byRegion) > 0 }

// fixedServer is the server of a kind that is not regional.
func fixedServer(sp spec) string {
	if sp.Server == "" {
		return "default"
	}
	return sp.Server
}

// Check makes sure the kind can be placed: on its configured server, or by
// region.
func (d *Driver) Check(k infra.Kind) error {
	s, err := decodeSpec(k)
	if err != nil {
		return err
	}
	if !d.regional(s) {
		if _, ok := d.servers[fixedServer(s)]; !ok {
			return fmt.Errorf("server %q is not configured (infra.postgres), and no server has a region", fixedServer(s))
		}
	}
	for size, n := range s.ConnectionLimit {
		if n < -1 {
			return fmt.Errorf("connectionLimit.%s must be -1 or more", size)
		}
	}
	return nil
}

// ShapeParameters makes the region parameter of a regional kind an enum of
// the configured regions (required; a default kept only if configured), so
// templates and the schema check offer and accept real regions only.
func (d *Driver) ShapeParameters(k infra.Kind) (map[string]any, error) {
	s, err := decodeSpec(k)
	if err != nil {
		return nil, err
	}
	params := deepCopy(k.Parameters)
	if !d.regional(s) {
		return params, nil
	}
	props, _ := params["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
		params["properties"] = props
	}
	region, _ := props[RegionParameter].(map[string]any)
	if region == nil {
		region = map[string]any{"title": "Region"}
		props[RegionParameter] = region
	}
	region["type"] = "string"
	region["enum"] = d.Regions()
	delete(region, "pattern")
	if def, ok := region["default"].(string); ok && !slices.Contains(d.regions, def) {
		delete(region, "default")
	}
	required, _ := params["required"].([]any)
	if !slices.Contains(required, any(RegionParameter)) {
		params["required"] = append(required, RegionParameter)
	}
	return params, nil
}

func deepCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case map[string]any:
			out[k] = deepCopy(x)
		case []any:
			out[k] = slices.Clone(x)
		default:
			out[k] = v
		}
	}
	return out
}

// place returns the server a new resource goes to.
func (d *Driver) place(sp spec, params map[string]any) (Server, error) {
	if !d.regional(sp) {
		srv, ok := d.servers[fixedServer(sp)]
		if !ok {
			return Server{}, paved.Errorf(paved.EUnavailable, "PostgreSQL server %q is not configured", fixedServer(sp))
		}
		return srv, nil
	}
	region, _ := params[RegionParameter].(string)
	srv, ok := d.byRegion[region]
	if !ok {
		return Server{}, paved.InvalidFields(paved.FieldError{Field: "parameters." + RegionParameter,
			Message: fmt.Sprintf("no PostgreSQL server is configured for region %.64q (configured: %s)", region, strings.Join(d.regions, ", "))})
	}
	return srv, nil
}

// recorded returns the server a resource was provisioned on, as its details
// say. A server that is gone, or that now serves another region, is an
// error naming the region: the resource is never looked for elsewhere.
func (d *Driver) recorded(r infra.Resource) (Server, bool, error) {
	name, region := r.Details["server"], r.Details["region"]
	if name == "" {
		return Server{}, false, nil
	}
	where := fmt.Sprintf("PostgreSQL server %q", name)
	if region != "" {
		where = fmt.Sprintf("region %s (PostgreSQL server %q)", region, name)
	}
	srv, ok := d.servers[name]
	if !ok {
		return Server{}, true, paved.Errorf(paved.EUnavailable, "%s %q lives in %s, which is no longer configured (infra.postgres); nothing was changed", r.Kind, r.Name, where)
	}
	// A record without a region predates regions: its server may have been
	// given one since.
	if region != "" && srv.Region != region {
		return Server{}, true, paved.Errorf(paved.EUnavailable, "%s %q lives in %s, but that server is now configured for region %q; nothing was changed", r.Kind, r.Name, where, srv.Region)
	}
	return srv, true, nil
}

var identRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// Identifier is the role and database name of a resource: its name with '-'
// as '_'. Anything else is refused, though it is quoted anyway.
func Identifier(name string) (string, error) {
	id := strings.ReplaceAll(name, "-", "_")
	if !infra.ValidName(name) || !identRE.MatchString(id) {
		return "", paved.InvalidFields(paved.FieldError{Field: "name", Message: "is not a valid database name"})
	}
	return id, nil
}

func marker(r infra.Resource) string { return "paved:" + r.ID }

// Provision creates the role and the database. A retry for the same resource
// finds both and only resets the password; a role or database of that name
// that paved did not create for this resource is a conflict and is left as
// it is. On failure, what this call created is dropped again.
func (d *Driver) Provision(ctx context.Context, k infra.Kind, r infra.Resource) (out infra.Outcome, err error) {
	sp, err := decodeSpec(k)
	if err != nil {
		return out, err
	}
	ident, err := Identifier(r.Name)
	if err != nil {
		return out, err
	}
	srv, err := d.place(sp, r.Parameters)
	if err != nil {
		return out, err
	}
	pool, err := d.pool(ctx, srv.Name)
	if err != nil {
		return out, err
	}
	limit := -1
	if size, ok := r.Parameters["size"].(string); ok {
		if n, ok := sp.ConnectionLimit[size]; ok {
			limit = n
		}
	}
	password, verifier, err := newPassword()
	if err != nil {
		return out, err
	}
	quoted := quoteIdent(ident)
	mark := marker(r)

	var createdRole, createdDB bool
	defer func() {
		if err == nil {
			return
		}
		// Undo only what this call created, even if the caller hung up.
		cctx := context.WithoutCancel(ctx)
		if createdDB {
			_, _ = pool.Exec(cctx, "DROP DATABASE IF EXISTS "+quoted+" WITH (FORCE)")
		}
		if createdRole {
			_, _ = pool.Exec(cctx, "DROP ROLE IF EXISTS "+quoted)
		}
	}()

	roleMark, roleExists, err := roleComment(ctx, pool, ident)
	if err != nil {
		return out, err
	}
	switch {
	case roleExists && roleMark != mark:
		return out, paved.Errorf(paved.EConflict, "a PostgreSQL role %q already exists on server %q and paved did not create it for this resource", ident, srv.Name)
	case roleExists:
		// This resource's role, from an earlier attempt: adopt it.
		if _, err = pool.Exec(ctx, "ALTER ROLE "+quoted+" WITH LOGIN PASSWORD "+literal(verifier)+" CONNECTION LIMIT "+strconv.Itoa(limit)); err != nil {
			return out, ddlError("resetting the role's password", err)
		}
	default:
		// The role and its marker commit together: a role of paved's is
		// never without the id of the resource it was made for.
		err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "CREATE ROLE "+quoted+" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD "+literal(verifier)+" CONNECTION LIMIT "+strconv.Itoa(limit)); err != nil {
				if isDuplicate(err) {
					return paved.Errorf(paved.EConflict, "a PostgreSQL role %q was created concurrently on server %q", ident, srv.Name)
				}
				return ddlError("creating the role", err)
			}
			if _, err := tx.Exec(ctx, "COMMENT ON ROLE "+quoted+" IS "+literal(mark)); err != nil {
				return ddlError("marking the role", err)
			}
			return nil
		})
		if err != nil {
			return out, err
		}
		createdRole = true
	}

	owner, dbMark, dbExists, err := databaseInfo(ctx, pool, ident)
	if err != nil {
		return out, err
	}
	switch {
	case dbExists && owner == ident && (dbMark == mark || dbMark == ""):
		// This resource's database, from an earlier attempt; without a
		// marker, that attempt died between CREATE DATABASE and the set-up
		// below, and the database is owned by this resource's (marked) role:
		// adopt it and finish the set-up.
		if dbMark == "" {
			if err = setUpDatabase(ctx, pool, quoted, mark); err != nil {
				return out, err
			}
		}
	case dbExists:
		return out, paved.Errorf(paved.EConflict, "a PostgreSQL database %q already exists on server %q and paved did not create it for this resource", ident, srv.Name)
	default:
		// CREATE DATABASE cannot run in a transaction: the database is
		// created owned by the marked role, which is how a retry recognizes
		// it before its own marker is set.
		if _, err = pool.Exec(ctx, "CREATE DATABASE "+quoted+" OWNER "+quoted+" ENCODING 'UTF8'"); err != nil {
			if isDuplicate(err) {
				return out, paved.Errorf(paved.EConflict, "a PostgreSQL database %q was created concurrently on server %q", ident, srv.Name)
			}
			return out, ddlError("creating the database", err)
		}
		createdDB = true
		if err = setUpDatabase(ctx, pool, quoted, mark); err != nil {
			return out, err
		}
	}

	details := map[string]string{"server": srv.Name, "database": ident, "username": ident}
	if srv.Region != "" {
		details["region"] = srv.Region
	}
	creds := map[string]string{"database": ident, "username": ident, "password": password}
	address(srv, details)
	address(srv, creds)
	return infra.Outcome{Details: details, Credentials: creds}, nil
}

// setUpDatabase marks a new database and closes it to PUBLIC, in one
// transaction: a database with paved's marker is set up.
func setUpDatabase(ctx context.Context, pool *pgxpool.Pool, quoted, mark string) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, stmt := range []string{
			// Only the owner role connects; PUBLIC may by default.
			"REVOKE ALL ON DATABASE " + quoted + " FROM PUBLIC",
			"COMMENT ON DATABASE " + quoted + " IS " + literal(mark),
		} {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return ddlError("setting up the database", err)
			}
		}
		return nil
	})
}

// address sets where m's database is reached on srv: host, port, sslmode,
// and the url when m holds the password.
func address(srv Server, m map[string]string) {
	port := strconv.Itoa(srv.Port)
	m["host"], m["port"], m["sslmode"] = srv.Host, port, srv.SSLMode
	if password, ok := m["password"]; ok {
		u := url.URL{Scheme: "postgres", User: url.UserPassword(m["username"], password), Host: srv.Host + ":" + port, Path: "/" + m["database"],
			RawQuery: url.Values{"sslmode": {srv.SSLMode}}.Encode()}
		m["url"] = u.String()
	}
}

// Connection checks that the resource's server is still configured and
// gives its current address with the sealed credentials.
func (d *Driver) Connection(ctx context.Context, r infra.Resource, creds map[string]string) (map[string]string, error) {
	srv, ok, err := d.recorded(r)
	if err != nil || !ok {
		return creds, err
	}
	out := make(map[string]string, len(creds))
	for k, v := range creds {
		out[k] = v
	}
	address(srv, out)
	return out, nil
}

// Deprovision drops the database (closing its sessions) and the role that
// paved created for this resource; what is gone already is no error. A role
// or database of that name that is not this resource's is left alone, and
// reported as a conflict once this resource's objects are gone.
func (d *Driver) Deprovision(ctx context.Context, k infra.Kind, r infra.Resource) error {
	sp, err := decodeSpec(k)
	if err != nil {
		return err
	}
	ident, err := Identifier(r.Name)
	if err != nil {
		return err
	}
	srv, ok, err := d.recorded(r)
	if err != nil {
		return err
	}
	if !ok {
		// Recorded before servers were: where the kind places it.
		if srv, err = d.place(sp, r.Parameters); err != nil {
			return err
		}
	}
	pool, err := d.pool(ctx, srv.Name)
	if err != nil {
		return err
	}
	quoted := quoteIdent(ident)
	mark := marker(r)
	var foreign []string
	dbOwner, dbMark, dbExists, err := databaseInfo(ctx, pool, ident)
	if err != nil {
		return err
	}
	roleMark, roleExists, err := roleComment(ctx, pool, ident)
	if err != nil {
		return err
	}
	// A database without a marker owned by this resource's role was made by
	// an attempt that died before marking it.
	if dbExists && (dbMark == mark || (dbMark == "" && dbOwner == ident && roleExists && roleMark == mark)) {
		if _, err := pool.Exec(ctx, "DROP DATABASE IF EXISTS "+quoted+" WITH (FORCE)"); err != nil {
			return ddlError("dropping the database", err)
		}
	} else if dbExists {
		foreign = append(foreign, "database")
	}
	if roleExists && roleMark == mark {
		if _, err := pool.Exec(ctx, "DROP ROLE IF EXISTS "+quoted); err != nil {
			return ddlError("dropping the role", err)
		}
	} else if roleExists {
		foreign = append(foreign, "role")
	}
	if len(foreign) > 0 {
		return paved.Errorf(paved.EConflict, "%s %q on server %q was not created by paved for this resource; leaving it", strings.Join(foreign, " and "), ident, srv.Name)
	}
	return nil
}

func roleComment(ctx context.Context, pool *pgxpool.Pool, role string) (string, bool, error) {
	var comment *string
	err := pool.QueryRow(ctx, `SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1`, role).Scan(&comment)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, paved.Wrap(paved.EUnavailable, err, "PostgreSQL: reading roles failed")
	}
	if comment == nil {
		return "", true, nil
	}
	return *comment, true, nil
}

func databaseInfo(ctx context.Context, pool *pgxpool.Pool, db string) (owner, comment string, exists bool, err error) {
	var c *string
	err = pool.QueryRow(ctx, `SELECT pg_get_userbyid(datdba), shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1`, db).Scan(&owner, &c)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, paved.Wrap(paved.EUnavailable, err, "PostgreSQL: reading databases failed")
	}
	if c != nil {
		comment = *c
	}
	return owner, comment, true, nil
}

// DDL takes no bind parameters, so the few values in paved's DDL are
// quoted. Identifier admits only [a-z0-9_] names and the literals are paved's
// own text (a SCRAM verifier, paved:<resource id>): quoting is the second
// wall, and must hold whatever reaches it.

// quoteIdent is ident as a quoted SQL identifier ("" doubled, NUL dropped).
func quoteIdent(ident string) string { return pgx.Identifier{ident}.Sanitize() }

// literal is s as an SQL string constant that reads the same whatever the
// server's standard_conforming_strings says: an escape string, E'…', with
// backslashes and quotes doubled. (A plain '…' with only quotes doubled lets
// a backslash end the constant early when the setting is off.)
func literal(s string) string {
	return "E'" + strings.NewReplacer(`\`, `\\`, "'", "''").Replace(s) + "'"
}

func isDuplicate(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "42710" || pe.Code == "42P04" || pe.Code == "23505")
}

// ddlError keeps the server's message but never the statement, which may
// hold a password verifier.
func ddlError(what string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return paved.Errorf(paved.EUnavailable, "PostgreSQL: %s failed: %s (SQLSTATE %s)", what, pe.Message, pe.Code)
	}
	return paved.Errorf(paved.EUnavailable, "PostgreSQL: %s failed: %s", what, errors.Unwrap(err))
}

// newPassword returns a random password (256 bits, URL-safe) and its
// SCRAM-SHA-256 verifier in the form PostgreSQL stores.
func newPassword() (string, string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", "", err
	}
	password := base64.RawURLEncoding.EncodeToString(raw)
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", "", err
	}
	v, err := ScramVerifier(password, salt, 4096)
	return password, v, err
}

// ScramVerifier computes the SCRAM-SHA-256 verifier of password (RFC 7677),
// as PostgreSQL's pg_authid.rolpassword holds it.
func ScramVerifier(password string, salt []byte, iterations int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", err
	}
	clientKey := mac(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := mac(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(storedKey[:]), b64(serverKey)), nil
}

func mac(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}
