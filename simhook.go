// Package simhook holds the domain types shared by the simhook edge agent:
// its version and the state a phone reports. The work happens in the
// sub-packages: modem drives GSM modems, outbox stores and delivers events,
// webhook defines the wire format, config loads the operator's file and agent
// joins them into the daemon.
package simhook

// Version is the release of this build. Packaging overrides it with
// -ldflags "-X github.com/simhook/simhook.Version=...".
var Version = "0.1.0-dev"
