// Package modem drives one USB GSM modem over AT commands and never loses
// an SMS.
//
// A Phone (NewPhone, then Run) opens the modem's serial port with
// go.bug.st/serial, initialises it, and from then on turns what the modem
// produces into calls on a Handler: complete messages (HandleSMS), PDUs it
// cannot decode (HandleMalformed), delivery reports (HandleStatusReport),
// incoming calls (HandleCall) and its own state (HandleState). Send, HangUp,
// USSD, State and Stats may be called from any goroutine.
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
// # What is used of github.com/warthog618/modem (v0.4.0), part by part
//
//   - trace: used. Its io.ReadWriter decorator is what the phone's AT trace
//     (Config.Trace, SetTrace, SubscribeTrace) runs through: it reports each
//     chunk read and written, and this package cuts the chunks into lines,
//     masks PINs and passwords, and sends them to slog at debug level and to
//     simhook phone trace.
//   - at: not used, for the defects listed above (unordered indication
//     handlers, indications and late replies mixed into the wrong command's
//     reply). The engine here keeps its shape (an io.ReadWriter below, one
//     command in flight, indications on their own path) without them.
//   - gsm: not used. It acknowledges +CMT before the caller holds the
//     message, keeps concatenated parts in memory only and always sends with
//     concatenation reference 1; this package stores parts on the SIM until
//     the message is complete and takes references from a durable source.
//   - serial: not used. It wraps github.com/tarm/serial, which has no read
//     deadlines or close-to-unblock semantics we rely on; go.bug.st/serial
//     opens the port (and the pty simulator's) instead.
//   - info: not used. Its two helpers (HasPrefix, TrimPrefix for "+CMD: "
//     info lines) are one-liners that the parsers here need with other
//     rules (case and spacing of vendor prefixes, +CMGL's several lines).
//
// PDUs are encoded and decoded with github.com/warthog618/sms (v0.3.0).
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
// # USSD
//
// USSD sends AT+CUSD=1 like any other command and then waits, on the
// phone's clock and without holding the engine, for the network's +CUSD
// answer, which the engine's reader hands straight to the waiting call
// whether it comes before or after the OK, and also when its text runs over
// several lines. A +CUSD nobody waits for (a USSD the network starts) is an
// indication, logged at info. Answers are decoded from GSM 7-bit text or
// packed hex, UCS-2 or 8-bit data by their data coding scheme.
//
// # Faults
//
// A Phone reconnects by itself: a pulled-out modem, a hang, an ERROR storm
// or garbage on the line takes it down, and it comes back with capped
// backoff, re-initialises and sweeps. Junk lines are skipped and counted
// (Stats). A PIN the SIM refused is never sent again by the same Phone.
package modem
