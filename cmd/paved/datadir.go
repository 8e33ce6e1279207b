package main

import (
	"fmt"
	"os"
	"syscall"
)

// privateDataDir makes the data directory paved's alone before anything is
// written in it: it holds the SQLite store, the local token, the infra key and
// the embedded GitOps repository. A directory someone else created 0755 is
// narrowed to 0700; one paved cannot narrow stops it with a clear message.
// The umask makes every file and directory paved creates from now on private
// too (0600/0700), whatever mode the code that creates it asks for.
func privateDataDir(dir string) error {
	syscall.Umask(0o077)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("data directory %s is readable by other users (mode %#o) and paved cannot make it 0700: %w; "+
			"run `chmod 700 %s` as its owner, or set dataDir to a directory of paved's own", dir, fi.Mode().Perm(), err, dir)
	}
	return nil
}
