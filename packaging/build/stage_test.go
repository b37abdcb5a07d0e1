package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// repoRoot is the module root, two levels up from packaging/build.
const repoRoot = "../.."

func gunzip(t *testing.T, data []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGzipBytes(t *testing.T) {
	for _, in := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("simhook "), 10000)} {
		a, err := gzipBytes(in)
		if err != nil {
			t.Fatal(err)
		}
		b, err := gzipBytes(in)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("two compressions of %d bytes differ", len(in))
		}
		// RFC 1952 header: magic, deflate, no flags (no name), mtime 0,
		// XFL 2 (maximum compression), as gzip -9n writes.
		if a[0] != 0x1f || a[1] != 0x8b || a[2] != 8 || a[3] != 0 || !bytes.Equal(a[4:8], []byte{0, 0, 0, 0}) || a[8] != 2 {
			t.Errorf("header % x: want magic, deflate, no name, mtime 0, XFL 2", a[:10])
		}
		if got := gunzip(t, a); !bytes.Equal(got, in) {
			t.Errorf("round trip of %d bytes gave %d bytes", len(in), len(got))
		}
	}
}

func TestChangelog(t *testing.T) {
	want, err := os.ReadFile("testdata/changelog.golden")
	if err != nil {
		t.Fatal(err)
	}
	got := changelog("1.2.3~rc.1-4", "1.2.3-rc.1", time.Unix(1763158400, 0))
	if !bytes.Equal(got, want) {
		t.Errorf("changelog:\n%s\nwant:\n%s", got, want)
	}
	nfpm, err := os.ReadFile(filepath.Join(repoRoot, "packaging", "nfpm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(nfpm), "\nmaintainer: "+maintainer+"\n") {
		t.Errorf("packaging/nfpm.yaml does not name the changelog's maintainer %q", maintainer)
	}
}

// TestStage stages from the real tree and checks every file nfpm.yaml names
// is there, with the compressed ones decompressing to their sources.
func TestStage(t *testing.T) {
	conffile := filepath.Join(t.TempDir(), "simhook.yaml")
	if err := os.WriteFile(conffile, []byte("# test conffile\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tr := tree{Root: repoRoot, Conffile: conffile}
	if err := stage(dir, tr, "1.0.0-1", "1.0.0", time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	nfpm, err := os.ReadFile(filepath.Join(dir, "nfpm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(nfpm), "\n") {
		line = strings.TrimSpace(line)
		var name string
		switch {
		case strings.HasPrefix(line, "- src: "):
			name = strings.TrimPrefix(line, "- src: ")
		case strings.HasPrefix(line, "postinstall: "), strings.HasPrefix(line, "preremove: "), strings.HasPrefix(line, "postremove: "):
			name = line[strings.Index(line, " ")+1:]
		default:
			continue
		}
		if name == "simhook" {
			continue // the binary, built separately
		}
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("nfpm.yaml needs %s: %v", name, err)
		}
	}
	for _, script := range []string{"postinst", "prerm", "postrm"} {
		fi, err := os.Stat(filepath.Join(dir, script))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable", script)
		}
	}
	man, _ := os.ReadFile(tr.manPage())
	gz, _ := os.ReadFile(filepath.Join(dir, "simhook.1.gz"))
	if got := gunzip(t, gz); !bytes.Equal(got, man) {
		t.Error("simhook.1.gz does not decompress to docs/man/simhook.1")
	}
	conf, _ := os.ReadFile(filepath.Join(dir, "simhook.yaml"))
	if string(conf) != "# test conffile\n" {
		t.Errorf("staged conffile = %q, want the --conffile file", conf)
	}
}

func TestStageMissingConffile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "simhook.yaml")
	err := stage(t.TempDir(), tree{Root: repoRoot, Conffile: missing}, "1.0.0-1", "1.0.0", time.Unix(0, 0))
	if err == nil || !strings.Contains(err.Error(), "default configuration") || !strings.Contains(err.Error(), missing) {
		t.Errorf("stage without a conffile: error %v, want one naming the missing default configuration", err)
	}
}

// TestBuildBinary compiles a stand-in module with the real build settings:
// the version reaches the binary, and it is a static executable.
func TestBuildBinary(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "simhook")
	if err := buildBinary(ctx, "testdata/fakemodule", targets["amd64"], "9.8.7-test", out); err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		t.Errorf("machine %v, want x86-64", f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has an ELF interpreter: it is not static")
		}
	}
	if f.Section(".symtab") != nil {
		t.Error("the binary has a symbol table: not stripped")
	}
	got, err := exec.CommandContext(ctx, out).Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "simhook 9.8.7-test amd64\n" {
		t.Errorf("the binary says %q, want the injected version", got)
	}
}

func TestBuildBinaryError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := buildBinary(ctx, t.TempDir(), targets["amd64"], "1", filepath.Join(t.TempDir(), "x"))
	if err == nil || !strings.Contains(err.Error(), "go build ./cmd/simhook") {
		t.Errorf("build of an empty directory: error %v, want a go build error", err)
	}
}
