// Package sandbox reproduces, for tests, the restrictions the shipped
// systemd unit puts on simhook. DenyClock installs the seccomp filter that
// ProtectClock=yes (and SystemCallFilter=@system-service, which leaves out
// @clock) amounts to for reading the clock's state: adjtimex and
// clock_adjtime fail with EPERM, even when they would only read.
//
// It is a test tool; the shipped binary does not import it.
package sandbox
