package outbox

import "golang.org/x/sys/unix"

// kernelTimeSynced reports whether the kernel considers the clock
// synchronised (an NTP daemon cleared STA_UNSYNC). A Raspberry Pi has no
// real-time clock and boots in the past until NTP has run; signed requests
// sent then would carry timestamps receivers reject. Where the state cannot
// be read it answers true.
func kernelTimeSynced() bool {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	if err != nil {
		return true
	}
	return state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0
}
