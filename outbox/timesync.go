package outbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// ClockState is what the clock guard knows about the system clock.
// A Raspberry Pi has no real-time clock: it boots with the time of its last
// shutdown (fake-hwclock) until NTP has run, and signed requests sent then
// carry timestamps that receivers checking freshness reject.
type ClockState struct {
	// Known is false when no source could tell (a sandbox that denies
	// adjtimex, say); the guard then holds, as for an unsynchronised clock.
	Known bool `json:"known"`
	// Synced reports a synchronised clock; it is meaningful only if Known.
	Synced bool `json:"synced"`
	// Source names what answered ("timesyncd", "kernel", "override"), or
	// the reason nothing did.
	Source string `json:"source"`
}

// String is how stats and logs show the state.
func (s ClockState) String() string {
	switch {
	case !s.Known:
		return "unknown (" + s.Source + ")"
	case s.Synced:
		return "synchronised (" + s.Source + ")"
	default:
		return "not synchronised (" + s.Source + ")"
	}
}

// Timesyncd flag file: systemd-timesyncd creates it on its first
// synchronisation; /run is a tmpfs, so it says "since this boot".
const defaultTimesyncdFlag = "/run/systemd/timesync/synchronized"

// ClockGuard reads the clock's state from the sources that work inside the
// shipped unit's sandbox first. Under SystemCallFilter=@system-service and
// ProtectClock=yes, adjtimex fails with EPERM even for a read, so the
// systemd-timesyncd flag file comes first and adjtimex second; when neither
// answers the state is unknown.
type ClockGuard struct {
	// TimesyncdFlag is the file systemd-timesyncd creates once synchronised;
	// "" means the real one.
	TimesyncdFlag string
	// Adjtimex reads the kernel's time status; nil means unix.Adjtimex.
	Adjtimex func(*unix.Timex) (int, error)
}

// State asks the sources in order.
func (g ClockGuard) State() ClockState {
	flag := g.TimesyncdFlag
	if flag == "" {
		flag = defaultTimesyncdFlag
	}
	_, err := os.Stat(flag)
	if err == nil {
		return ClockState{Known: true, Synced: true, Source: "timesyncd"}
	}
	flagErr := err
	adj := g.Adjtimex
	if adj == nil {
		adj = unix.Adjtimex
	}
	var tx unix.Timex
	state, err := adj(&tx)
	if err == nil {
		synced := state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0
		return ClockState{Known: true, Synced: synced, Source: "kernel"}
	}
	// The flag file's absence is an answer only together with a kernel
	// that says unsynchronised; alone it may just mean another NTP client.
	reason := fmt.Sprintf("adjtimex: %v", err)
	if !errors.Is(flagErr, fs.ErrNotExist) {
		reason = fmt.Sprintf("%s: %v; %s", flag, flagErr, reason)
	}
	return ClockState{Source: reason}
}
