package sqlstore

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Dialect is everything the queries of this package need to know about the
// engine under them. The queries are written once, in the SQL both engines
// share (INSERT … ON CONFLICT … DO UPDATE, RETURNING, ? placeholders); the
// schemas, which differ more (BLOB/BYTEA, INTEGER/TIMESTAMPTZ, TEXT/JSONB),
// are the migrations of each engine package.
type Dialect struct {
	// Name is the engine's name as DB.Engine reports it.
	Name string
	// DollarPlaceholders makes Rebind number the placeholders ($1, $2, …)
	// as PostgreSQL wants them.
	DollarPlaceholders bool
	// UnixMicroTime says timestamp columns hold integer microseconds since
	// the Unix epoch, in UTC, for engines without a time type (SQLite). When
	// false they are TIMESTAMPTZ.
	UnixMicroTime bool
	// Now is an SQL expression for the database's current time, in the form
	// of a timestamp column. Leases compare against it so that the clock of
	// the database, not of each replica, decides when a lease has expired.
	Now string
	// NowPlusMicros is Now plus the number of microseconds bound to its one
	// placeholder.
	NowPlusMicros string
	// MigrationLock is run first in the migration transaction so that
	// replicas starting together apply migrations one after the other. Empty
	// when the engine serialises writers by itself.
	MigrationLock string
	// StageLock and StageLockShared are run first in the transactions
	// that move runs' funnel flags and answers' stages (exclusive) and in
	// those that write an answer (shared), so that movers on different
	// replicas run one after the other (devex_funnel.go). Empty when the
	// engine serialises writers by itself.
	StageLock, StageLockShared string
	// XactLock takes a lock until the transaction ends on the number bound
	// to its one placeholder, so that transactions of every replica that
	// read, add to and write back the same rows run one after the other.
	// Empty when the engine serialises writers by itself.
	XactLock string
}

// SQLite is the dialect of modernc.org/sqlite, opened with _txlock=immediate
// so that every transaction takes the write lock when it begins.
var SQLite = Dialect{
	Name:          "sqlite",
	UnixMicroTime: true,
	Now:           "CAST(unixepoch('subsec') * 1000000 AS INTEGER)",
	NowPlusMicros: "(CAST(unixepoch('subsec') * 1000000 AS INTEGER) + ?)",
}

// Postgres is the dialect of PostgreSQL through pgx.
var Postgres = Dialect{
	Name:               "postgres",
	DollarPlaceholders: true,
	Now:                "clock_timestamp()",
	NowPlusMicros:      "(clock_timestamp() + CAST(? AS BIGINT) * interval '1 microsecond')",
	// The key is arbitrary but fixed: every paved replica must use the same one.
	MigrationLock: "SELECT pg_advisory_xact_lock(7061766564)",
	// Another fixed key, the same on every replica.
	StageLock:       "SELECT pg_advisory_xact_lock(7061766565)",
	StageLockShared: "SELECT pg_advisory_xact_lock_shared(7061766565)",
	XactLock:        "SELECT pg_advisory_xact_lock(?)",
}

// Rebind rewrites the ? placeholders of query into the engine's form. A ?
// inside a quoted string or identifier is left alone.
func (d Dialect) Rebind(query string) string {
	if !d.DollarPlaceholders || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	var quote byte // the quote we are inside, or 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Time returns the value to bind for a timestamp column: the zero time is
// NULL, and times are kept to the microsecond both engines can hold.
func (d Dialect) Time(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	if d.UnixMicroTime {
		return t.UnixMicro()
	}
	return t.UTC().Truncate(time.Microsecond)
}

// timeColumn scans a timestamp column of either engine into a UTC time; NULL
// becomes the zero time.
type timeColumn struct{ t *time.Time }

func (c timeColumn) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMicro(v).UTC()
	case time.Time:
		*c.t = v.UTC()
	default:
		return fmt.Errorf("sqlstore: a timestamp column holds a %T", src)
	}
	return nil
}
