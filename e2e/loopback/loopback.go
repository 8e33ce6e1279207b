// Package loopback hands out loopback listeners and addresses for the
// components the end-to-end tests start.
//
// Ports come from below the kernel's ephemeral range when there is room. A
// port in that range, closed after being picked, can be taken by any outgoing
// connection before its component binds it (or while it is down for a
// restart), which then fails with "address already in use": seen for
// argocd-server's metrics port after a 30 s outage, and a flake waiting to
// happen for every "pick a free port, start the process" in the suite.
package loopback

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// Listen listens on a free loopback port, below the ephemeral range when it can.
func Listen() (net.Listener, error) {
	if lo := ephemeralLow(); lo > 20000 {
		for range 50 {
			if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", 10000+rand.IntN(lo-10000))); err == nil {
				return l, nil
			}
		}
	}
	return net.Listen("tcp", "127.0.0.1:0")
}

// FreeAddr returns a loopback host:port that was free a moment ago, below the
// ephemeral range when it can. Another process may still take it before the
// caller binds it; that fails the caller's start loudly, not silently.
func FreeAddr() (string, error) {
	l, err := Listen()
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// FreePort is FreeAddr's port.
func FreePort() (int, error) {
	l, err := Listen()
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ephemeralLow is the first port of the kernel's ephemeral range, 0 when unknown.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	return n
}
