package postgresql

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/paved-dev/paved"
)

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
