package server_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/paved-dev/paved/server"
)

// TestSlowBodiesAreCutOff: many clients that send their body one byte at a
// time each get a 408 in Backstage's error JSON and a closed connection,
// while a client with a whole body is served as usual. Before the body
// timeout they held their connections for as long as they trickled.
func TestSlowBodiesAreCutOff(t *testing.T) {
	f := newServerWith(t, func(d *server.Deps) { d.BodyTimeout = 300 * time.Millisecond })
	srv := httptest.NewServer(f.handler)
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	const conns = 100
	body := `{"name":"ann"}`
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- trickle(addr, body)
		}()
	}
	// Meanwhile a normal call goes through.
	resp, err := http.Post(srv.URL+"/api/paved/.backstage/actions/v1/actions/paved:greet/invoke?token", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized { // no token: refused, but answered at once
		t.Errorf("normal call: %d", resp.StatusCode)
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			if failed < 3 {
				t.Error(err)
			}
			failed++
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d slow clients were not cut off", failed, conns)
	}
}

// trickle sends an invoke request whose body comes one byte every 100 ms and
// expects a 408 and the connection closed by paved before it sent half of it
// (a 20 s cap so that the test ends on the old code too).
func trickle(addr, body string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	padded := body + strings.Repeat(" ", 200)
	fmt.Fprintf(c, "POST /api/paved/.backstage/actions/v1/actions/paved:greet/invoke HTTP/1.1\r\nHost: paved\r\n"+
		"Authorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", testToken, len(padded))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < len(padded)/2; i++ {
			if _, err := c.Write([]byte{padded[i]}); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return fmt.Errorf("no response to a slow body: %w", err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e struct {
		Error struct{ Name, Message string }
	}
	if resp.StatusCode != http.StatusRequestTimeout || json.Unmarshal(raw, &e) != nil || e.Error.Name != "InputError" {
		return fmt.Errorf("slow body: %d %s, want 408 InputError", resp.StatusCode, raw)
	}
	// Closed: a FIN, or a reset when paved closes with the client's bytes
	// still unread.
	if _, err := c.Read(make([]byte, 1)); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
		return fmt.Errorf("the connection of a slow body stays open after the 408 (read: %v)", err)
	}
	<-done
	return nil
}
