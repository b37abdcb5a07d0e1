package main

import (
	"fmt"
	"strings"
)

// target is one Debian architecture and the Go toolchain settings that
// produce a binary for it.
type target struct {
	Deb    string // Debian architecture name
	GOARCH string
	GOARM  string // only for arm
}

// targets lists the architectures the package is built for.
var targets = map[string]target{
	"amd64": {Deb: "amd64", GOARCH: "amd64"},
	"arm64": {Deb: "arm64", GOARCH: "arm64"},
	// GOARM=6: ARMv6 with VFP runs on every Raspberry Pi, including the
	// Zero and the 1, which Debian's ARMv7 armhf baseline leaves out.
	"armhf": {Deb: "armhf", GOARCH: "arm", GOARM: "6"},
}

// parseArchs reads a comma-separated list of Debian architecture names.
func parseArchs(list string) ([]target, error) {
	var out []target
	seen := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" || seen[name] {
			continue
		}
		t, ok := targets[name]
		if !ok {
			return nil, fmt.Errorf("architecture %q: want amd64, arm64 or armhf", name)
		}
		seen[name] = true
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no architecture given")
	}
	return out, nil
}
