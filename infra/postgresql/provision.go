package postgresql

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/infra"
)

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
