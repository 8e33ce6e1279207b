// Package sqlstore is paved's store: the queries over database/sql that both
// engines run, SQLite (package sqlite, the default) and PostgreSQL (package
// postgres). What differs between them is in Dialect and in each engine's
// migrations; everything else is here, once.
//
// Feature stores add their tables by adding a migration to both engines and
// their queries as methods of DB in this package.
package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"sync"
	"time"
)

// DB is paved's store over one database.
type DB struct {
	db         *sql.DB
	dialect    Dialect
	migrations fs.FS

	writerOnce sync.Once
	writer     *groupWriter

	users ordinalCache // devex user numbers already committed
}

// Open migrates db to the schema in migrations (the engine's *.sql files, see
// Migrate) and returns the store over it. The caller keeps db when Open fails.
func Open(ctx context.Context, db *sql.DB, d Dialect, migrations fs.FS) (*DB, error) {
	if err := Migrate(ctx, db, d, migrations); err != nil {
		return nil, err
	}
	return &DB{db: db, dialect: d, migrations: migrations}, nil
}

// Engine names the engine: "sqlite" or "postgres".
func (db *DB) Engine() string { return db.dialect.Name }

// Dialect returns what differs between the engines, for queries added beside
// this package's own.
func (db *DB) Dialect() Dialect { return db.dialect }

// SQL returns the database handle.
func (db *DB) SQL() *sql.DB { return db.db }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.db.PingContext(ctx); err != nil {
		return fmt.Errorf("%s: ping: %w", db.dialect.Name, err)
	}
	return nil
}

// Migrate applies the migrations that are not applied yet. Open has run it;
// running it again changes nothing.
func (db *DB) Migrate(ctx context.Context) error {
	return Migrate(ctx, db.db, db.dialect, db.migrations)
}

// Close closes the database handle.
func (db *DB) Close() error { return db.db.Close() }

// exec, query and queryRow run a query written with ? placeholders.

func (db *DB) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return db.db.ExecContext(ctx, db.dialect.Rebind(query), args...)
}

func (db *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return db.db.QueryContext(ctx, db.dialect.Rebind(query), args...)
}

func (db *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return db.db.QueryRowContext(ctx, db.dialect.Rebind(query), args...)
}

// now is the time stamped on records whose caller left it zero.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// rowScanner is a row of *sql.Rows or the *sql.Row of a single-row query.
type rowScanner = interface{ Scan(...any) error }

// queryList runs q and scans every row with scan; what names the list in
// errors. No rows is an empty slice, never nil (JSON []).
func queryList[T any](ctx context.Context, db *DB, what, q string, scan func(rowScanner) (T, error), args ...any) ([]T, error) {
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
