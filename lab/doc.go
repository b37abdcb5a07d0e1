// Package lab assembles a complete simhook installation on one machine: one
// or more simulated modems on pseudo-terminals, a configuration file written
// as an operator would write it, the agent reading that file, and a verifying
// webhook receiver listening on 127.0.0.1.
//
// Nothing in a lab is faked above the radio: the agent opens the modems'
// ptys with go.bug.st/serial, commits events to a real bbolt file in the
// lab's directory and delivers them over real HTTP, and the receiver checks
// both signatures of every request exactly as a customer's server would.
//
// `simhook demo`, the agent's end-to-end tests, `simhook bench` and the
// fault suite are all built on it:
//
//	l, err := lab.Start(ctx, lab.Options{Phones: 1})
//	if err != nil { ... }
//	defer l.Close()
//	l.Modems[0].InjectSMS(modemsim.SMS{From: "+33612345678", Text: "Hello"})
//	err = l.WaitEvents(ctx, webhook.ReceiveSMS, 1)
package lab
