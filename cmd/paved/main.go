// Command paved is the Go service behind Backstage golden paths: a Backstage
// plugin that serves scaffolder actions creating Argo CD applications and
// infrastructure. See the README for how to run it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "paved:", err)
		os.Exit(exitCode(err))
	}
}
