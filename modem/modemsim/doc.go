// Package modemsim emulates a GSM modem on a pseudo-terminal, for tests and
// the demo. A client opens Path with go.bug.st/serial exactly as it would
// open /dev/ttyUSB0, and talks 3GPP TS 27.005/27.007 AT commands to it: V.250
// framing with echo and several commands per line, identity, PIN,
// registration and signal, SMS in PDU mode (storage, +CNMI indications,
// read, list, delete, send with the "> " prompt and status reports), and
// calls (RING, +CLIP, ATA, ATH, +CHUP, +CLCC, NO CARRIER), and USSD
// (+CUSD, with the answers SetUSSD configures).
//
// Tests drive the network side through the Go API: inject SMS (GSM 7-bit
// with the extension table, UCS-2 with emoji, long texts in concatenated
// parts) and calls, choose what happens to sent messages, read what clients
// sent, and break things: unplug and replug, hang, garbage on the line,
// ERROR storms, slow replies and full storage. Profiles give the quirks of a
// few vendors (banners, +CLIP gating, chatty URCs).
package modemsim
