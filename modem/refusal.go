package modem

import "errors"

// SIMRefused reports whether a send failed because of the sending phone's
// SIM or subscription rather than the message or its destination: barred,
// not subscribed to SMS, no SIM or a SIM failure, a PIN or PUK needed, no
// SMS centre configured. Another phone, with another SIM, may send it.
func SIMRefused(err error) bool {
	var cms *CMSError
	if !errors.As(err, &cms) {
		return false
	}
	switch cms.Code {
	case 8, // operator determined barring
		10,            // call barred
		28,            // unidentified subscriber
		29,            // facility rejected
		30,            // unknown subscriber (the sender)
		50,            // requested facility not subscribed
		300, 301, 302, // ME failure, SMS service reserved, operation not allowed
		310, 311, 312, 313, 314, 315, 316, 317, 318, // SIM missing, locked, failed, busy or wrong
		330: // SMS centre address unknown
		return true
	}
	return false
}

// PhoneDown reports whether a send failed because the phone was not there
// (not connected, or its port closed) before the modem was given anything.
// A message the modem may have (ErrUnconfirmed) is not such a failure.
func PhoneDown(err error) bool {
	if errors.Is(err, ErrUnconfirmed) {
		return false
	}
	return errors.Is(err, ErrNotReady) || errors.Is(err, ErrClosed)
}
