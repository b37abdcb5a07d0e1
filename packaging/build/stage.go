package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// tree names the files of the source tree that go into the package.
type tree struct {
	Root     string // module root: holds packaging/, systemd/ and docs/man/
	Conffile string // the default configuration (packaging/simhook.yaml)
}

// staged is a source file copied as is into the staging directory.
type staged struct {
	src, name string
	mode      os.FileMode
}

// files lists the files copied unchanged, by their path under Root and
// their name in the staging directory (the name packaging/nfpm.yaml uses).
func (t tree) files() []staged {
	return []staged{
		{src: filepath.Join(t.Root, "packaging", "nfpm.yaml"), name: "nfpm.yaml", mode: 0o644},
		{src: t.Conffile, name: "simhook.yaml", mode: 0o644},
		{src: filepath.Join(t.Root, "systemd", "simhook.service"), name: "simhook.service", mode: 0o644},
		{src: filepath.Join(t.Root, "packaging", "sysusers.conf"), name: "sysusers.conf", mode: 0o644},
		{src: filepath.Join(t.Root, "packaging", "udev", "77-simhook.rules"), name: "77-simhook.rules", mode: 0o644},
		{src: filepath.Join(t.Root, "packaging", "copyright"), name: "copyright", mode: 0o644},
		{src: filepath.Join(t.Root, "packaging", "lintian-overrides"), name: "lintian-overrides", mode: 0o644},
		{src: filepath.Join(t.Root, "packaging", "scripts", "postinst"), name: "postinst", mode: 0o755},
		{src: filepath.Join(t.Root, "packaging", "scripts", "prerm"), name: "prerm", mode: 0o755},
		{src: filepath.Join(t.Root, "packaging", "scripts", "postrm"), name: "postrm", mode: 0o755},
	}
}

// manPage is the roff source of simhook(1).
func (t tree) manPage() string { return filepath.Join(t.Root, "docs", "man", "simhook.1") }

// stage fills dir with everything the package needs except the binary:
// the files of the tree, the man page compressed and the changelog for
// this version. A missing source file is an error naming it.
func stage(dir string, t tree, debVersion, upstream string, when time.Time) error {
	for _, f := range t.files() {
		data, err := os.ReadFile(f.src)
		if errors.Is(err, fs.ErrNotExist) && f.src == t.Conffile {
			return fmt.Errorf("the default configuration %s is missing (it is written by the config package's owner; pass --conffile to use another file): %w", f.src, err)
		}
		if err != nil {
			return fmt.Errorf("stage: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), data, f.mode); err != nil {
			return fmt.Errorf("stage: %w", err)
		}
	}
	man, err := os.ReadFile(t.manPage())
	if err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	for name, data := range map[string][]byte{
		"simhook.1.gz":        man,
		"changelog.Debian.gz": changelog(debVersion, upstream, when),
	} {
		gz, err := gzipBytes(data)
		if err != nil {
			return fmt.Errorf("stage %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), gz, 0o644); err != nil {
			return fmt.Errorf("stage: %w", err)
		}
	}
	return nil
}
