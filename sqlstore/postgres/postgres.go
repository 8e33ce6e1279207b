// Package postgres opens paved's store in PostgreSQL, through pgx: the engine
// for several replicas sharing one store.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Pool limits: a replica needs few connections (requests write one
// invocation each; background work runs on one replica), and PostgreSQL's
// max_connections is shared by every replica.
const (
	maxOpenConns    = 20
	maxIdleConns    = 5
	connMaxIdleTime = 5 * time.Minute
)

// Open connects to the database dsn names (a postgres:// URL or key=value
// string), checks that it answers and migrates it. Replicas may call Open at
// the same time: migrations run under an advisory lock.
//
// No error of Open holds the DSN or its password; they may hold the user,
// host and database names.
func Open(ctx context.Context, dsn string) (*sqlstore.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message quotes the connection string, and the cause may quote
		// it unredacted; neither may reach a log.
		return nil, paved.Errorf(paved.EInvalid, "postgres: the connection string cannot be parsed (not shown: it may hold a password)")
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxIdleConns)
	db.SetConnMaxIdleTime(connMaxIdleTime)

	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, paved.Errorf(paved.EUnavailable, "postgres: connect: %s", redact(err, dsn, cfg.Password))
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	store, err := sqlstore.Open(ctx, db, sqlstore.Postgres, sub)
	if err != nil {
		db.Close()
		return nil, errors.New("postgres: " + redact(err, dsn, cfg.Password))
	}
	return store, nil
}

// redact returns err's message without the DSN or the password. The error
// itself is dropped, not wrapped: a caller could otherwise reach pgx's
// connection config through errors.As.
func redact(err error, dsn, password string) string {
	msg := err.Error()
	msg = strings.ReplaceAll(msg, dsn, "[dsn]")
	if password != "" {
		msg = strings.ReplaceAll(msg, password, "[password]")
	}
	return msg
}
