// Package modem drives one USB GSM modem over AT commands and never loses
// an SMS.
//
// A Phone (NewPhone, then Run) opens the modem's serial port with
// go.bug.st/serial, initialises it, and from then on turns what the modem
// produces into calls on a Handler: complete messages (HandleSMS), PDUs it
// cannot decode (HandleMalformed), delivery reports (HandleStatusReport),
// incoming calls (HandleCall) and its own state (HandleState). Send, HangUp,
// State and Stats may be called from any goroutine.
//
// # The AT engine
//
// The package has its own small AT engine rather than
// github.com/warthog618/modem's at package, whose measured defects (SPEC
// §4) matter here: each indication handler runs in its own goroutine, so
// RING and +CLIP can be reordered; an indication arriving while a command
// waits can land in that command's reply; a timed-out command's late reply
// is handed to the next command; its gsm layer acknowledges +CMT before the
// caller has the message and keeps concatenated parts in memory only; and
// concatenated sends always use reference 1. Here one reader goroutine
// splits lines and routes known unsolicited lines (unless the command in
// flight answers with that very prefix) to one ordered queue that the
// phone's goroutine serves; everything else goes to the single command in
// flight, whose reply ends at its final result code. After a timeout the
// engine resynchronises (AT until an OK followed by silence) before the
// next command, so a late reply is discarded. PDUs are encoded and decoded
// with github.com/warthog618/sms, which is sound.
//
// # Receiving
//
// Incoming SMS stay stored on the modem (+CNMI=2,1: stored and announced
// with +CMTI). Each +CMTI triggers a read of that slot (a burst, one
// AT+CMGL); a sweep with AT+CMGL=4 at start-up, after every reconnect and
// on a slow timer catches anything a lost indication left behind. The parts
// of a concatenated message stay on the SIM until the whole message exists,
// until its first part is older than ConcatTimeout (by its SCTS), or until
// every slot of the storage holds waiting parts; then the message goes as
// it is, flagged Incomplete. A message is deleted from the modem only after
// the Handler returned nil, which the agent does only once the event is
// committed to its outbox. If that delete fails (the modem vanished) the
// phone remembers the slot and its content and deletes it later instead of
// offering it again; after a process restart Message.Key identifies a
// message offered twice.
//
// # Faults
//
// A Phone reconnects by itself: a pulled-out modem, a hang, an ERROR storm
// or garbage on the line takes it down, and it comes back with capped
// backoff, re-initialises and sweeps. Junk lines are skipped and counted
// (Stats). A PIN the SIM refused is never sent again by the same Phone.
package modem
