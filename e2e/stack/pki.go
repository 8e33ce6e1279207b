package stack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// pki holds the files kube-apiserver needs: a CA, a serving certificate for
// 127.0.0.1 signed by it, and the key that signs service-account tokens.
type pki struct {
	caCert, serverCert, serverKey, saKey, saPub string
}

// makePKI creates the files with openssl, valid for a week: long enough for a
// dev stack, short enough not to matter if a state directory is left behind.
func makePKI(ctx context.Context, dir string) (pki, error) {
	p := pki{
		caCert:     filepath.Join(dir, "ca.crt"),
		serverCert: filepath.Join(dir, "apiserver.crt"),
		serverKey:  filepath.Join(dir, "apiserver.key"),
		saKey:      filepath.Join(dir, "sa.key"),
		saPub:      filepath.Join(dir, "sa.pub"),
	}
	caKey := filepath.Join(dir, "ca.key")
	csr := filepath.Join(dir, "apiserver.csr")
	ext := filepath.Join(dir, "apiserver.ext")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return pki{}, err
	}
	san := "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc,IP:10.96.0.1\n" +
		"extendedKeyUsage=serverAuth\n"
	if err := os.WriteFile(ext, []byte(san), 0o600); err != nil {
		return pki{}, err
	}
	ec := []string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"}
	steps := [][]string{
		append([]string{"req", "-x509", "-days", "7", "-subj", "/CN=paved-e2e-ca", "-keyout", caKey, "-out", p.caCert}, ec...),
		append([]string{"req", "-new", "-subj", "/CN=kube-apiserver", "-keyout", p.serverKey, "-out", csr}, ec...),
		{"x509", "-req", "-days", "7", "-in", csr, "-CA", p.caCert, "-CAkey", caKey, "-CAcreateserial", "-extfile", ext, "-out", p.serverCert},
		{"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", p.saKey},
		{"pkey", "-in", p.saKey, "-pubout", "-out", p.saPub},
	}
	for _, args := range steps {
		cmd := exec.CommandContext(ctx, "openssl", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return pki{}, fmt.Errorf("openssl %s: %w\n%s", args[0], err, out)
		}
	}
	return p, nil
}
