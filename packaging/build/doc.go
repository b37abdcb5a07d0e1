// Command build makes simhook's Debian packages, one per architecture:
//
//	go run ./packaging/build --version 0.2.0 --out dist --arch amd64,arm64,armhf
//
// For each architecture it compiles cmd/simhook with CGO_ENABLED=0 and
// -trimpath (GOARM=6 for armhf, so every Raspberry Pi runs it), stages the
// files the package ships (the unit from systemd/, the conffile
// packaging/simhook.yaml, the udev rule, the sysusers.d entry, the man page
// and changelog compressed like gzip -9n, the DEP-5 copyright and the
// lintian overrides) in a temporary directory and runs the nfpm pinned in
// go.mod on packaging/nfpm.yaml.
//
// The output is reproducible: every timestamp comes from SOURCE_DATE_EPOCH
// (default: the time of the last git commit), so two builds of one tree give
// byte-identical packages. GOARCH is set only on the compiler run of simhook,
// never around nfpm, which must run on the build machine.
//
// --version is the upstream version as the project writes it (0.2.0,
// 0.2.0-rc.1); the Debian version turns a pre-release hyphen into "~" so it
// sorts before the release, and appends the package revision (--release).
// The package is named simhook_<debian version>_<arch>.deb.
package main
