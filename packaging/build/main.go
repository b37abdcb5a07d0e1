package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/simhook/simhook"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
}

// options are the command line of the build.
type options struct {
	Version, Release string
	Out              string
	Archs            []target
	Root, Src        string
	Conffile         string
	Epoch            int64
}

// parseFlags reads the command line; SOURCE_DATE_EPOCH, else the time of
// the last commit in root, dates the build.
func parseFlags(ctx context.Context, args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Version, "version", simhook.Version, "upstream `version` (the binary reports it)")
	fs.StringVar(&o.Release, "release", "1", "Debian package `revision`")
	fs.StringVar(&o.Out, "out", "dist", "output `directory`")
	archs := fs.String("arch", "amd64,arm64,armhf", "comma-separated Debian `architectures`")
	fs.StringVar(&o.Root, "root", ".", "module root holding packaging/, systemd/ and docs/man/")
	fs.StringVar(&o.Src, "src", "", "module `directory` to compile cmd/simhook from (default: --root)")
	fs.StringVar(&o.Conffile, "conffile", "", "default configuration `file` (default: <root>/packaging/simhook.yaml)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.Archs, err = parseArchs(*archs); err != nil {
		return o, err
	}
	if o.Src == "" {
		o.Src = o.Root
	}
	if o.Conffile == "" {
		o.Conffile = filepath.Join(o.Root, "packaging", "simhook.yaml")
	}
	o.Epoch, err = sourceDateEpoch(ctx, o.Root)
	return o, err
}

// sourceDateEpoch is $SOURCE_DATE_EPOCH, else the commit time of HEAD.
func sourceDateEpoch(ctx context.Context, root string) (int64, error) {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want Unix seconds", s)
		}
		return n, nil
	}
	out, err := exec.CommandContext(ctx, "git", "-C", root, "log", "-1", "--format=%ct").Output()
	if err != nil {
		return 0, fmt.Errorf("no SOURCE_DATE_EPOCH and no git commit time in %s: %w", root, err)
	}
	return strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
}

// run builds one package per architecture and prints each one's path and
// SHA-256.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(ctx, args, stderr)
	if err != nil {
		return err
	}
	upstream, full, err := debVersion(o.Version, o.Release)
	if err != nil {
		return err
	}
	when := time.Unix(o.Epoch, 0).UTC()
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	nfpm, err := nfpmPath(ctx, o.Root)
	if err != nil {
		return err
	}
	for _, t := range o.Archs {
		deb := filepath.Join(o.Out, fmt.Sprintf("simhook_%s_%s.deb", full, t.Deb))
		if err := buildOne(ctx, o, t, nfpm, upstream, full, when, deb); err != nil {
			return err
		}
		sum, err := fileSHA256(deb)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s  %s\n", sum, deb)
	}
	return nil
}

// buildOne stages, compiles and packages one architecture.
func buildOne(ctx context.Context, o options, t target, nfpm, upstream, full string, when time.Time, deb string) error {
	dir, err := os.MkdirTemp("", "simhook-pkg-"+t.Deb+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := stage(dir, tree{Root: o.Root, Conffile: o.Conffile}, full, upstream, when); err != nil {
		return err
	}
	if err := buildBinary(ctx, o.Src, t, upstream, filepath.Join(dir, "simhook")); err != nil {
		return err
	}
	return runNFPM(ctx, nfpm, dir, t, full, o.Epoch, deb)
}

// fileSHA256 returns the hex SHA-256 of a file.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}
