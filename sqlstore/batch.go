package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"sync"
)

// Helpers of multi-row statements shared by the writers (devex ingest, the
// audit group commit, …): IN lists in batches, multi-row inserts, cached
// prepared statements.

// idBatch bounds the ids of one IN (…) list, well under PostgreSQL's
// 65535 parameters.
const idBatch = 500

// beginBatch begins a write transaction for multi-row statements (ingest,
// grouped audit records). Under SQLite, a multi-row insert or upsert keeps a
// statement journal; on a connection with the default temp_store it is a
// temporary file written page by page, which costs most of the write, so
// the connection keeps it in memory (the setting stays with the connection;
// it cannot change inside a transaction). It is scratch space for undoing
// one statement, not the database's journal: durability is unchanged.
func (db *DB) beginBatch(ctx context.Context) (*sql.Tx, func(), error) {
	if db.dialect.Name != SQLite.Name {
		tx, err := db.db.BeginTx(ctx, nil)
		if err != nil {
			return nil, nil, err
		}
		// Rolling back a committed transaction does nothing; a failed one must
		// give its connection back to the pool.
		return tx, func() { _ = tx.Rollback() }, nil
	}
	conn, err := db.db.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA temp_store = MEMORY`); err != nil {
		conn.Close()
		return nil, nil, err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	// Closing the Conn returns it to the pool, once the transaction ended.
	return tx, func() { tx.Rollback(); conn.Close() }, nil
}

// inBatches runs head + "(?, …)" for keys in batches, calling scan per row.
func (db *DB) inBatches(ctx context.Context, tx *sql.Tx, head string, keys []string, scan func(*sql.Rows) error) error {
	return db.inList(ctx, tx, head, "", keys, scan)
}

// rowsPerInsert bounds the rows of one multi-row INSERT: one statement per
// row costs most of an ingest, and 200 rows of 12 columns stay far under
// both engines' parameter limits.
const rowsPerInsert = 200

// insertRows runs head + "(?, …), (?, …)" + tail for args, rows of width
// values one after the other, in statements of at most rowsPerInsert rows.
// No two rows may hit the same conflict key.
func (db *DB) insertRows(ctx context.Context, tx *sql.Tx, head, tail string, width int, args []any) error {
	rows := len(args) / width
	var full string // the statement of a full chunk, built once
	for start := 0; start < rows; start += rowsPerInsert {
		n := min(rowsPerInsert, rows-start)
		chunk := args[start*width : (start+n)*width]
		if n < rowsPerInsert {
			if _, err := tx.ExecContext(ctx, db.insertQuery(head, tail, width, n), chunk...); err != nil {
				return err
			}
			continue
		}
		// Full chunks repeat: parse them once per connection, not per batch.
		if full == "" {
			full = db.insertQuery(head, tail, width, n)
		}
		st, err := db.cachedStmt(ctx, full)
		if err != nil {
			return err
		}
		if _, err := tx.StmtContext(ctx, st).ExecContext(ctx, chunk...); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) insertQuery(head, tail string, width, rows int) string {
	tuple := "(" + placeholders(width) + ")"
	var q strings.Builder
	q.Grow(len(head) + rows*(len(tuple)+2) + len(tail))
	q.WriteString(head)
	for i := range rows {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(tuple)
	}
	q.WriteString(tail)
	return db.dialect.Rebind(q.String())
}

// stmtCache holds prepared statements per database and query; database/sql
// prepares each again on every connection that runs it, once.
var stmtCache sync.Map // stmtKey → *sql.Stmt

type stmtKey struct {
	db    *sql.DB
	query string
}

func (db *DB) cachedStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	k := stmtKey{db.db, query}
	if st, ok := stmtCache.Load(k); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := db.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := stmtCache.LoadOrStore(k, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// queryIn runs head + "(?, …)" with args. Full batches repeat: they are
// parsed once per connection, not per query.
func (db *DB) queryIn(ctx context.Context, tx *sql.Tx, head string, args []any) (*sql.Rows, error) {
	q := db.dialect.Rebind(head + `(` + placeholders(len(args)) + `)`)
	if len(args) < idBatch {
		return tx.QueryContext(ctx, q, args...)
	}
	st, err := db.cachedStmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return tx.StmtContext(ctx, st).QueryContext(ctx, args...)
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// sortedKeys returns m's keys in the order of compare: rows written in key
// order, so two PostgreSQL writers never take the same rows in opposite
// orders.
func sortedKeys[K comparable, V any](m map[K]V, compare func(a, b K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compare)
	return keys
}
