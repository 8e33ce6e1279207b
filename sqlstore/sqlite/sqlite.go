// Package sqlite opens paved's store in a SQLite file, through the pure-Go
// modernc.org/sqlite driver: the default engine, for one replica.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/sqlstore"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// connParams configure every connection of the pool:
//   - WAL lets readers go on while one connection writes;
//   - _txlock=immediate takes the write lock when a transaction begins, so
//     two writing transactions queue on the busy timeout instead of one of
//     them failing with SQLITE_BUSY when it upgrades its read lock;
//   - the busy timeout is how long a writer waits for another to finish;
//   - synchronous=NORMAL is durable across crashes of paved in WAL mode
//     (a power cut may lose the last transactions, never corrupt the file).
const connParams = "_txlock=immediate&_busy_timeout=10000&_journal_mode=WAL&_synchronous=NORMAL&_foreign_keys=1"

// Open opens, creating it and its directory when missing, the store in the
// SQLite file at path, and migrates it.
//
// The store is safe for concurrent use by the goroutines of one process.
// Several processes on one file work too (SQLite locks the file), but paved
// replicas that share a store should use PostgreSQL.
//
// ":memory:" and "file:" URIs are refused: an in-memory database lives per
// connection, so a pool would see several different databases; tests use a
// file in t.TempDir() instead.
func Open(ctx context.Context, path string) (*sqlstore.DB, error) {
	if path == "" || strings.Contains(path, ":memory:") || strings.HasPrefix(path, "file:") || strings.Contains(path, "?") {
		return nil, paved.Errorf(paved.EInvalid, "sqlite: the store needs a file path without '?', not %q", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create the store's directory: %w", err)
	}
	if err := privateFiles(path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", path+"?"+connParams)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: migrations: %w", err)
	}
	store, err := sqlstore.Open(ctx, db, sqlstore.SQLite, sub)
	// Another process opening the same file may hold it in a state in which
	// SQLite answers SQLITE_BUSY at once instead of calling the busy handler
	// (switching it to WAL, recovering its WAL index): try again for a while.
	for wait := 10 * time.Millisecond; err != nil && busy(err) && wait < 5*time.Second; wait *= 2 {
		select {
		case <-ctx.Done():
			db.Close()
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		store, err = sqlstore.Open(ctx, db, sqlstore.SQLite, sub)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return store, nil
}

// privateFiles creates the store file 0600 when it is missing (SQLite gives
// its -wal and -shm files the mode of the database file) and narrows a store
// file, -wal or -shm an earlier run left readable by others to 0600: they
// hold the audit log and the sealed credentials.
func privateFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
		if fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		if err := os.Chmod(p, 0o600); err != nil {
			return fmt.Errorf("sqlite: %s is readable by other users (mode %#o) and paved cannot make it 0600: %w", p, fi.Mode().Perm(), err)
		}
	}
	return nil
}

// busy reports whether err is SQLite's SQLITE_BUSY, extended codes included.
func busy(err error) bool {
	var coded interface{ Code() int }
	return errors.As(err, &coded) && coded.Code()&0xff == sqlite3.SQLITE_BUSY
}
