// Command image builds paved's OCI image without a container daemon: a static
// paved for each platform on two layers (CA certificates and the user paved
// runs as; the binary), written as an OCI image layout, an OCI archive and a
// docker-style tarball per platform. The same inputs give the same digest.
//
//	go run . -root ../.. -out ../../bin/image -version v1.2.3 -revision $(git rev-parse HEAD) \
//	    -created $(git log -1 --format=%ct)
//
// `go run . extract -layout DIR -platform linux/amd64 -to ROOTFS` unpacks one
// platform's file system as a container runtime would (the end-to-end tests
// run paved from it).
//
// Publish with `crane push --index bin/image/oci REGISTRY/paved:TAG` or
// `skopeo copy --all oci:bin/image/oci:VERSION docker://REGISTRY/paved:TAG`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "extract" {
		return runExtract(args[1:])
	}
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	var o Options
	var platforms, created string
	fs.StringVar(&o.Root, "root", "../..", "the paved repository")
	fs.StringVar(&o.Out, "out", "../../bin/image", "output directory")
	fs.StringVar(&platforms, "platforms", "linux/amd64,linux/arm64", "comma-separated os/arch list")
	fs.StringVar(&o.Version, "version", "dev", "paved's version (also the tag in the layout)")
	fs.StringVar(&o.Revision, "revision", "", "the git commit")
	fs.StringVar(&o.Source, "source", "https://github.com/paved-dev/paved", "the source repository's URL")
	fs.StringVar(&created, "created", os.Getenv("SOURCE_DATE_EPOCH"), "creation time as Unix seconds (the commit's time)")
	fs.StringVar(&o.CACerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "PEM bundle of CA certificates")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if created == "" {
		return fmt.Errorf("-created (or SOURCE_DATE_EPOCH) is required: the image must not carry the build's clock")
	}
	secs, err := strconv.ParseInt(created, 10, 64)
	if err != nil {
		return fmt.Errorf("-created: %q is not Unix seconds", created)
	}
	o.Created = time.Unix(secs, 0)
	o.Platforms = strings.Split(platforms, ",")
	o.Logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	res, err := Build(ctx, o)
	if err != nil {
		return err
	}
	fmt.Printf("image %s\n", res.Digest)
	for _, p := range o.Platforms {
		fmt.Printf("  %s %s\n", p, res.Images[p])
	}
	fmt.Printf("layout %s (ref %s)\narchive %s\n", res.LayoutDir, o.Version, res.OCIArchive)
	for _, p := range o.Platforms {
		fmt.Printf("tarball %s\n", res.Tarballs[p])
	}
	return nil
}

func runExtract(args []string) error {
	fs := flag.NewFlagSet("extract", flag.ContinueOnError)
	dir := fs.String("layout", "../../bin/image/oci", "OCI layout written by the build")
	platform := fs.String("platform", "linux/amd64", "os/arch of the image to unpack")
	to := fs.String("to", "", "directory to unpack into")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *to == "" {
		return fmt.Errorf("extract: -to is required")
	}
	img, err := platformImage(*dir, *platform)
	if err != nil {
		return err
	}
	return extract(img, *to)
}
