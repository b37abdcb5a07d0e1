package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// versionVar is the variable the linker sets to the version.
const versionVar = "github.com/simhook/simhook.Version"

// hostEnv is the environment without the Go settings that select a target
// platform, so that tools run here are built for here.
func hostEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GOOS", "GOARCH", "GOARM", "GOARM64", "GOAMD64", "GOFLAGS", "CGO_ENABLED":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// buildBinary compiles cmd/simhook of the module in src for t into out.
// Only this command gets GOARCH: it is static (no cgo), has no file paths
// of the build machine (-trimpath), no VCS stamp that depends on the state
// of the working tree, and no symbol tables (-s -w, as dh_strip would).
func buildBinary(ctx context.Context, src string, t target, upstream, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build",
		"-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -buildid= -X "+versionVar+"="+upstream,
		"-o", out, "./cmd/simhook")
	cmd.Dir = src
	// GOWORK=off: the module's own go.mod (whose replace finds webhook/)
	// decides, not a go.work above src.
	cmd.Env = append(hostEnv(), "GOWORK=off", "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+t.GOARCH)
	if t.GOARM != "" {
		cmd.Env = append(cmd.Env, "GOARM="+t.GOARM)
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = os.Stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/simhook for %s in %s: %w\n%s", t.Deb, src, err, stderr.Bytes())
	}
	return nil
}

// nfpmPath returns the nfpm binary pinned as a tool in root's tools.mod,
// building it for the host if needed (`go tool -n` prints its path).
// -modfile is refused in workspace mode, hence GOWORK=off.
func nfpmPath(ctx context.Context, root string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "tool", "-modfile=tools.mod", "-n", "nfpm")
	cmd.Dir = root
	cmd.Env = append(hostEnv(), "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go tool -modfile=tools.mod -n nfpm: %w\n%s", err, stderr.Bytes())
	}
	return strings.TrimSpace(string(out)), nil
}

// runNFPM packages the staged directory dir for t into the .deb at out.
// It runs in dir, where packaging/nfpm.yaml finds its sources by name.
func runNFPM(ctx context.Context, nfpm, dir string, t target, debVersion string, epoch int64, out string) error {
	version, release := splitDebVersion(debVersion)
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, nfpm, "package",
		"--config", "nfpm.yaml", "--packager", "deb", "--target", abs)
	cmd.Dir = dir
	cmd.Env = append(hostEnv(),
		"SIMHOOK_ARCH="+t.Deb,
		"SIMHOOK_VERSION="+version,
		"SIMHOOK_RELEASE="+release,
		fmt.Sprintf("SOURCE_DATE_EPOCH=%d", epoch))
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nfpm package for %s: %w\n%s", t.Deb, err, output.Bytes())
	}
	return nil
}
