package main

import (
	"fmt"
	"strings"
)

// debVersion turns an upstream version into the Debian version of the
// package: a leading "v" is dropped, the first hyphen (a semver
// pre-release) becomes "~" so that 1.0.0-rc.1 sorts before 1.0.0, and the
// package revision is appended. The upstream part is returned too: it is the
// string the binary reports.
func debVersion(version, release string) (upstream, full string, err error) {
	upstream = strings.TrimPrefix(version, "v")
	if upstream == "" || upstream[0] < '0' || upstream[0] > '9' {
		return "", "", fmt.Errorf("version %q: must start with a digit", version)
	}
	for _, r := range upstream {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || strings.ContainsRune(".+~-", r)) {
			return "", "", fmt.Errorf("version %q: character %q is not allowed in a Debian version", version, r)
		}
	}
	if release == "" {
		return "", "", fmt.Errorf("release: empty package revision")
	}
	for _, r := range release {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || strings.ContainsRune(".+~", r)) {
			return "", "", fmt.Errorf("release %q: character %q is not allowed in a Debian revision", release, r)
		}
	}
	deb := strings.Replace(upstream, "-", "~", 1)
	deb = strings.ReplaceAll(deb, "-", ".")
	return upstream, deb + "-" + release, nil
}

// splitDebVersion splits a Debian version made by debVersion into the
// version and release fields nfpm wants.
func splitDebVersion(full string) (version, release string) {
	i := strings.LastIndexByte(full, '-')
	return full[:i], full[i+1:]
}
