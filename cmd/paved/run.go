package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/paved-dev/paved"
	"github.com/paved-dev/paved/config"
)

const usage = `paved — the service behind Backstage golden paths

Usage:
  paved [serve] [--config FILE]        run the service (default)
  paved version                        print the version
  paved config check [--config FILE]   validate a configuration, listing every problem
  paved actions list                   list the actions of a running paved
  paved actions invoke ID --input FILE|-
                                       invoke an action of a running paved
  paved invocations [--action ID]      read the audit log of a running paved
  paved keys rotate                    rotate paved's signing key (static token needed)

Client commands find paved at --url, PAVED_URL, or the configured listen
address, and authenticate with --token, PAVED_TOKEN, or the local token file
that 'paved serve' writes into its data directory.
`

// usageError makes paved exit with status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// run is paved's whole program; main only supplies the process environment,
// so tests can start paved exactly as a user does.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return cmdServe(ctx, args, getenv, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "paved %s\n", paved.Version)
		return nil
	case "config":
		if len(args) == 0 || args[0] != "check" {
			return usageError{"usage: paved config check [--config FILE]"}
		}
		return cmdConfigCheck(args[1:], getenv, stdout)
	case "actions":
		if len(args) == 0 {
			return usageError{"usage: paved actions list | paved actions invoke ID --input FILE|-"}
		}
		switch args[0] {
		case "list":
			return cmdActionsList(ctx, args[1:], getenv, stdout)
		case "invoke":
			return cmdActionsInvoke(ctx, args[1:], getenv, stdin, stdout)
		}
		return usageError{fmt.Sprintf("unknown actions command %q", args[0])}
	case "invocations":
		return cmdInvocations(ctx, args, getenv, stdout)
	case "keys":
		if len(args) == 0 || args[0] != "rotate" {
			return usageError{"usage: paved keys rotate"}
		}
		return cmdKeysRotate(ctx, args[1:], getenv, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usageError{fmt.Sprintf("%s: %v", fs.Name(), err)}
	}
	return nil
}

func cmdConfigCheck(args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlags("config check")
	path := fs.String("config", "", "configuration file (default $PAVED_CONFIG)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*path, getenv)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "configuration is valid (store: %s, %d Argo CD instance(s))\n", cfg.Database.Engine(), len(cfg.ArgoCD.Instances))
	return nil
}
