package main

import (
	"crypto/rand"
	"fmt"
	"os"
)

// leaseHolder names this replica in a store lease. Host name and pid alone
// do not tell replicas apart: pods with hostNetwork share the node's name
// and each container's paved is pid 1, and the leases would then let every
// replica in at once.
func leaseHolder() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), rand.Text()[:8])
}
