package main

import (
	"fmt"
	"time"
)

// maintainer is the Maintainer of the package, also the changelog's signer.
// It must match packaging/nfpm.yaml.
const maintainer = "simhook maintainers <packaging@simhook.org>"

// changelog renders the package's changelog.Debian: one entry for this
// build, dated at the reproducible build time. The project's own history
// is in its git log and release notes.
func changelog(debVersion, upstream string, when time.Time) []byte {
	return fmt.Appendf(nil, "simhook (%s) unstable; urgency=medium\n\n"+
		"  * Package simhook %s for Debian 12 (bookworm) and Raspberry Pi OS.\n\n"+
		" -- %s  %s\n",
		debVersion, upstream, maintainer, when.UTC().Format(time.RFC1123Z))
}
