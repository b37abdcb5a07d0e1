package modemsim

// The GSM 7-bit tables of github.com/warthog618/sms are built lazily and
// without locking; importing smscharset builds them all before any
// goroutine of this package runs.
import _ "github.com/simhook/simhook/internal/smscharset"
