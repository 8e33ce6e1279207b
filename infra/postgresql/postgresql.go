// Package postgresql is the postgres driver of infrastructure golden paths:
// it creates a login role with a generated password and a database owned by
// it on a configured PostgreSQL server, and drops them again.
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
	// URL connects as a role with CREATEDB and CREATEROLE.
	URL string
	// Host and Port are what developers connect to (default: the URL's).
	Host    string
	Port    int
	SSLMode string
}

// Driver is the postgres driver.
type Driver struct {
	servers map[string]Server
	mu      sync.Mutex
	pools   map[string]*pgxpool.Pool
}

var _ infra.Driver = (*Driver)(nil)

// New returns the driver for servers; it connects on first use.
func New(servers []Server) (*Driver, error) {
	d := &Driver{servers: map[string]Server{}, pools: map[string]*pgxpool.Pool{}}
	for _, s := range servers {
		cfg, err := pgx.ParseConfig(s.URL)
		if err != nil {
			return nil, fmt.Errorf("postgresql: server %q: the URL does not parse", s.Name)
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
	}
	return d, nil
}

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
	// Server names the configured server (default "default").
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
	if s.Server == "" {
		s.Server = "default"
	}
	return s, nil
}

// Check makes sure the kind names a configured server.
func (d *Driver) Check(k infra.Kind) error {
	s, err := decodeSpec(k)
	if err != nil {
		return err
	}
	if _, ok := d.servers[s.Server]; !ok {
		return fmt.Errorf("server %q is not configured (infra.postgres)", s.Server)
	}
	for size, n := range s.ConnectionLimit {
		if n < -1 {
			return fmt.Errorf("connectionLimit.%s must be -1 or more", size)
		}
	}
	return nil
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
	srv := d.servers[sp.Server]
	pool, err := d.pool(ctx, sp.Server)
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
	quoted := pgx.Identifier{ident}.Sanitize()
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
		return out, paved.Errorf(paved.EConflict, "a PostgreSQL role %q already exists on server %q and paved did not create it for this resource", ident, sp.Server)
	case roleExists:
		if _, err = pool.Exec(ctx, "ALTER ROLE "+quoted+" WITH LOGIN PASSWORD "+literal(verifier)+" CONNECTION LIMIT "+strconv.Itoa(limit)); err != nil {
			return out, ddlError("resetting the role's password", err)
		}
	default:
		if _, err = pool.Exec(ctx, "CREATE ROLE "+quoted+" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD "+literal(verifier)+" CONNECTION LIMIT "+strconv.Itoa(limit)); err != nil {
			if isDuplicate(err) {
				return out, paved.Errorf(paved.EConflict, "a PostgreSQL role %q was created concurrently on server %q", ident, sp.Server)
			}
			return out, ddlError("creating the role", err)
		}
		createdRole = true
		if _, err = pool.Exec(ctx, "COMMENT ON ROLE "+quoted+" IS "+literal(mark)); err != nil {
			return out, ddlError("marking the role", err)
		}
	}

	owner, dbMark, dbExists, err := databaseInfo(ctx, pool, ident)
	if err != nil {
		return out, err
	}
	switch {
	case dbExists && (dbMark != mark || owner != ident):
		return out, paved.Errorf(paved.EConflict, "a PostgreSQL database %q already exists on server %q and paved did not create it for this resource", ident, sp.Server)
	case !dbExists:
		// CREATE DATABASE cannot run in a transaction: each statement stands alone.
		if _, err = pool.Exec(ctx, "CREATE DATABASE "+quoted+" OWNER "+quoted+" ENCODING 'UTF8'"); err != nil {
			if isDuplicate(err) {
				return out, paved.Errorf(paved.EConflict, "a PostgreSQL database %q was created concurrently on server %q", ident, sp.Server)
			}
			return out, ddlError("creating the database", err)
		}
		createdDB = true
		for _, stmt := range []string{
			"COMMENT ON DATABASE " + quoted + " IS " + literal(mark),
			// Only the owner role connects; PUBLIC may by default.
			"REVOKE ALL ON DATABASE " + quoted + " FROM PUBLIC",
		} {
			if _, err = pool.Exec(ctx, stmt); err != nil {
				return out, ddlError("setting up the database", err)
			}
		}
	}

	port := strconv.Itoa(srv.Port)
	u := url.URL{Scheme: "postgres", User: url.UserPassword(ident, password), Host: srv.Host + ":" + port, Path: "/" + ident,
		RawQuery: url.Values{"sslmode": {srv.SSLMode}}.Encode()}
	return infra.Outcome{
		Details: map[string]string{"server": sp.Server, "host": srv.Host, "port": port, "database": ident, "username": ident, "sslmode": srv.SSLMode},
		Credentials: map[string]string{"host": srv.Host, "port": port, "database": ident, "username": ident, "password": password,
			"sslmode": srv.SSLMode, "url": u.String()},
	}, nil
}

// Deprovision drops the database (closing its sessions) and the role, if
// paved created them for this resource; what is gone already is no error.
func (d *Driver) Deprovision(ctx context.Context, k infra.Kind, r infra.Resource) error {
	sp, err := decodeSpec(k)
	if err != nil {
		return err
	}
	ident, err := Identifier(r.Name)
	if err != nil {
		return err
	}
	pool, err := d.pool(ctx, sp.Server)
	if err != nil {
		return err
	}
	quoted := pgx.Identifier{ident}.Sanitize()
	mark := marker(r)
	_, dbMark, dbExists, err := databaseInfo(ctx, pool, ident)
	if err != nil {
		return err
	}
	if dbExists {
		if dbMark != mark {
			return paved.Errorf(paved.EConflict, "database %q on server %q was not created by paved for this resource; leaving it", ident, sp.Server)
		}
		if _, err := pool.Exec(ctx, "DROP DATABASE IF EXISTS "+quoted+" WITH (FORCE)"); err != nil {
			return ddlError("dropping the database", err)
		}
	}
	roleMark, roleExists, err := roleComment(ctx, pool, ident)
	if err != nil {
		return err
	}
	if roleExists {
		if roleMark != mark {
			return paved.Errorf(paved.EConflict, "role %q on server %q was not created by paved for this resource; leaving it", ident, sp.Server)
		}
		if _, err := pool.Exec(ctx, "DROP ROLE IF EXISTS "+quoted); err != nil {
			return ddlError("dropping the role", err)
		}
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

// literal quotes s as an SQL string literal. DDL takes no bind parameters,
// and what is quoted here is paved's own (a verifier, a marker), never input.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

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
