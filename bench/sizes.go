package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Target is a platform the package is built for.
type Target struct {
	Name, GOARCH, GOARM string
}

// Targets are the .deb architectures.
var Targets = []Target{{"amd64", "amd64", ""}, {"arm64", "arm64", ""}, {"armhf", "arm", "6"}}

// BinarySizes builds ./cmd/simhook for every target as the package does
// (CGO_ENABLED=0, -trimpath, stripped) and returns the sizes in bytes.
func BinarySizes(ctx context.Context, moduleDir string) (map[string]int64, error) {
	dir, err := os.MkdirTemp("", "simhook-sizes-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	sizes := make(map[string]int64)
	for _, t := range Targets {
		out := filepath.Join(dir, "simhook-"+t.Name)
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./cmd/simhook")
		cmd.Dir = moduleDir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+t.GOARCH, "GOARM="+t.GOARM)
		if msg, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building for %s: %w\n%s", t.Name, err, msg)
		}
		st, err := os.Stat(out)
		if err != nil {
			return nil, err
		}
		sizes[t.Name] = st.Size()
	}
	return sizes, nil
}
