// Package smscharset builds the GSM 7-bit character tables of
// github.com/warthog618/sms once, when the program starts.
//
// In v0.3.0 those tables are built lazily on first use by plain nil checks,
// with no synchronisation: two phones decoding their first messages at the
// same moment write the same maps concurrently, which the race detector
// reports and the Go runtime may turn into a fatal "concurrent map writes".
// Importing this package for its side effect builds every table in init,
// before any goroutine exists; afterwards the library only reads them.
package smscharset

import "github.com/warthog618/sms/encoding/gsm7/charset"

func init() { Build() }

// Build builds every table: the default and each national language's
// decoder and encoder, with their extension tables. It is idempotent.
func Build() {
	charset.DefaultDecoder()
	charset.DefaultEncoder()
	charset.DefaultExtDecoder()
	charset.DefaultExtEncoder()
	for nli := charset.Start; nli < charset.End; nli++ {
		charset.NewDecoder(nli)
		charset.NewExtDecoder(nli)
		charset.NewEncoder(nli)
		charset.NewExtEncoder(nli)
	}
}
