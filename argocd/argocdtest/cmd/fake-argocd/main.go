// Command fake-argocd serves argocdtest's in-process Argo CD API server on a
// port, so that paved can be run against it by hand:
//
//	fake-argocd -addr 127.0.0.1:8085 -user admin -password secret -sync-delay 3s
//
// then point paved at 127.0.0.1:8085 with plainText. The password may also
// come from FAKE_ARGOCD_PASSWORD, to keep it out of the process list.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/paved-dev/paved/argocd/argocdtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "fake-argocd:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fake-argocd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8085", "address to listen on")
	user := fs.String("user", "admin", "local account that may log in")
	password := fs.String("password", "", "password of -user (or FAKE_ARGOCD_PASSWORD); empty disables login")
	token := fs.String("token", "", "static API token accepted as is (or FAKE_ARGOCD_TOKEN)")
	delay := fs.Duration("sync-delay", 2*time.Second, "how long sync operations and cascading deletes take")
	namespaces := fs.String("app-namespaces", "", "comma-separated namespaces where Applications may live besides argocd")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *password == "" {
		*password = getenv("FAKE_ARGOCD_PASSWORD")
	}
	if *token == "" {
		*token = getenv("FAKE_ARGOCD_TOKEN")
	}
	opts := argocdtest.Options{Addr: *addr, Username: *user, Password: *password, SyncDelay: *delay}
	if *token != "" {
		opts.APITokens = []string{*token}
	}
	if *namespaces != "" {
		opts.AppNamespaces = strings.Split(*namespaces, ",")
	}
	srv, err := argocdtest.NewServer(opts)
	if err != nil {
		return err
	}
	srv.Start()
	defer srv.Close()
	fmt.Fprintf(stdout, "fake Argo CD API (gRPC, plaintext) on %s; login %t, API token %t\n",
		srv.Addr(), *password != "", *token != "")
	<-ctx.Done()
	return nil
}
