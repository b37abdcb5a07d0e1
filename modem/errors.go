package modem

import (
	"errors"
	"fmt"
	"regexp"
)

// Errors of the driver.
var (
	// ErrNotReady: the phone is not connected.
	ErrNotReady = errors.New("modem: phone not ready")
	// ErrTimeout: the modem did not answer in time.
	ErrTimeout = errors.New("modem: command timed out")
	// ErrClosed: the port was closed (unplugged, or the phone stopped).
	ErrClosed = errors.New("modem: port closed")
	// ErrCommand: the modem answered ERROR.
	ErrCommand = errors.New("modem: command failed")
	// ErrTooLong: the text needs more than 255 parts.
	ErrTooLong = errors.New("modem: text needs more than 255 parts")
	// ErrUnconfirmed: a message was handed to the modem (the PDU and its
	// Ctrl-Z were written) but no +CMGS answer settled it: the wait timed
	// out, was cancelled, or the port closed. The modem may have sent it,
	// so sending it again risks a duplicate. It wraps the cause.
	ErrUnconfirmed = errors.New("modem: message handed to the modem but not confirmed")
	// ErrHeld, wrapped in a Handler's error, means the handler holds the
	// message back on purpose (its state directory is short of space): it
	// stays on the modem and is offered again, as after any failure, but
	// the driver logs it at debug level, since the handler already said
	// why once.
	ErrHeld = errors.New("modem: message held back by the handler")
)

// CMSError is a +CMS ERROR (message service failure) with its code.
type CMSError struct{ Code int }

func (e *CMSError) Error() string { return fmt.Sprintf("modem: +CMS ERROR: %d", e.Code) }

// CMEError is a +CME ERROR (equipment failure) with its code or text.
type CMEError struct{ Text string }

func (e *CMEError) Error() string { return "modem: +CME ERROR: " + e.Text }

// Temporary reports whether retrying a failed send may help: a timeout
// without a reference, the phone being down, or a +CMS ERROR that is
// transient (network or centre busy, memory or resources short). A message
// the modem took without a verdict (ErrUnconfirmed) is temporary only when
// the modem stayed silent for the whole send timeout; one cut short by a
// cancelled wait or a closed port may already be on its way.
func Temporary(err error) bool {
	if errors.Is(err, ErrUnconfirmed) {
		return errors.Is(err, ErrTimeout)
	}
	if errors.Is(err, ErrTimeout) || errors.Is(err, ErrNotReady) || errors.Is(err, ErrClosed) {
		return true
	}
	var cms *CMSError
	if errors.As(err, &cms) {
		switch cms.Code {
		case 38, 41, 42, 47, 98, 111, 127, 331, 332, 500, 512, 513, 514, 515:
			// out of order, temporary failure, congestion, resources, no
			// network service, network timeout, unknown error.
			return true
		}
	}
	return false
}

var numberRE = regexp.MustCompile(`^\+?[0-9]{3,20}$`)

// ValidNumber checks a recipient: digits, optionally after a "+".
func ValidNumber(s string) error {
	if !numberRE.MatchString(s) {
		return fmt.Errorf("modem: %q is not a phone number (digits, optionally after +)", s)
	}
	return nil
}
