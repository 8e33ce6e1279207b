package server

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// Backstage's actions registry client (DefaultActionsService in
// @backstage/backend-defaults) turns a failed invoke into
// ResponseError.fromResponse, whose message, the one line the scaffolder's task
// log shows, is "Request failed with <status> <statusText>": the body's error
// message is kept only as the error's cause, which the log never prints.
// Node's fetch takes statusText from the HTTP/1.1 reason phrase as the server
// wrote it, so on the invoke routes paved writes its own reason there (a short,
// safe form of the error message), and the developer reads why the step failed
// without an extra Backstage module. Go's net/http always writes the standard
// phrase, hence the hijacked connection below.

const (
	// reasonKey marks a request whose error answer carries paved's message as
	// the HTTP reason phrase (set by statusReason on the invoke routes).
	reasonKey = "paved.reasonPhrase"
	// secretsKey holds the secret values of a v2 invoke: they are masked in
	// every error message, whatever echoed them.
	secretsKey = "paved.secrets"

	maxReasonBytes = 400
	// maxDrainBytes is what may be left of a request body before an error
	// answer is written on a connection paved then closes: closing over
	// unread data makes the kernel reset the connection, and the client may
	// lose the answer. A larger rest keeps the standard status line.
	maxDrainBytes = 64 << 10
)

// statusReason marks the route's error answers for a custom reason phrase.
func statusReason() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Set(reasonKey, true)
			return next(c)
		}
	}
}

// reasonPhrase makes msg a valid HTTP/1.1 reason-phrase (RFC 9112: HTAB, SP,
// VCHAR, obs-text) that reads the same in any client: printable ASCII only,
// at most maxReasonBytes, never a CR or LF that could end the status line.
func reasonPhrase(msg string) string {
	var b strings.Builder
	space := false
	for _, r := range msg {
		var s string
		switch {
		case r == utf8.RuneError:
			s = "?"
		case r < 0x20 || r == 0x7f || r == ' ' || r == '\u00a0':
			// Controls (newlines, tabs, NUL) become one space.
			if !space && b.Len() > 0 {
				s = " "
			}
		case r < 0x7f:
			s = string(r)
		case r == '…':
			s = "..."
		case r == '→':
			s = "->"
		case r == '‘' || r == '’':
			s = "'"
		case r == '“' || r == '”':
			s = `"`
		case r == '–' || r == '—':
			s = "-"
		default:
			s = "?"
		}
		if s == "" {
			continue
		}
		if b.Len()+len(s) > maxReasonBytes {
			out := strings.TrimRight(b.String(), " ")
			if len(out) > maxReasonBytes-3 {
				out = out[:maxReasonBytes-3]
			}
			return out + "..."
		}
		space = s == " "
		b.WriteString(s)
	}
	return strings.TrimRight(b.String(), " ")
}

// writeWithReason writes an error answer with reason as the status line's
// reason phrase, on an HTTP/1.x connection it then closes. It reports false,
// having written nothing, when that is not possible (HTTP/2, a recorder in
// tests, a body still too large to drain); the caller writes the answer the
// usual way.
func writeWithReason(c echo.Context, status int, reason, contentType string, body []byte) bool {
	req := c.Request()
	res := c.Response()
	if req.ProtoMajor != 1 || reason == "" || res.Committed {
		return false
	}
	if req.Body != nil {
		n, _ := io.Copy(io.Discard, io.LimitReader(req.Body, maxDrainBytes+1))
		if n > maxDrainBytes {
			return false
		}
	}
	conn, rw, err := res.Hijack()
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	h := res.Header().Clone()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Connection", "close")
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	w := rw.Writer
	if w == nil {
		w = bufio.NewWriter(conn)
	}
	fmt.Fprintf(w, "HTTP/1.1 %03d %s\r\n", status, reason)
	_ = h.Write(w)
	_, _ = w.WriteString("\r\n")
	if req.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	_ = w.Flush()
	// What the telemetry middleware reports.
	res.Status, res.Size, res.Committed = status, int64(len(body)), true
	return true
}

// minMaskedSecret is the shortest secret value masked in messages: a
// shorter one would mask ordinary words of the message (and is no secret
// worth the name).
const minMaskedSecret = 8

// maskable returns the secret values to mask, longest first so that a
// secret inside another is not left half-masked.
func maskable(secrets map[string]string) []string {
	out := make([]string, 0, len(secrets))
	for _, v := range secrets {
		if len(v) >= minMaskedSecret {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// maskSecrets replaces every secret value of the request in s.
func maskSecrets(c echo.Context, s string) string {
	secrets, _ := c.Get(secretsKey).([]string)
	for _, v := range secrets {
		s = strings.ReplaceAll(s, v, "***")
	}
	return s
}
