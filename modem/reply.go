package modem

// storedRecord is one message in a +CMGR or +CMGL reply: its header line
// and the hex PDU line that follows it.
type storedRecord struct {
	header string
	pdu    string
}

// storedRecords picks the messages out of a +CMGR or +CMGL reply whose
// header lines start with prefix. Lines that fit neither a header nor the
// hex PDU after one are noise that reached the port during the reply
// (garbage, a stray indication); they are returned as a count so that the
// caller can record them. A header whose PDU is missing yields no record,
// so its message stays on the modem for the next read instead of being
// taken for a malformed PDU and deleted.
func storedRecords(lines []string, prefix string) (recs []storedRecord, stray int) {
	header := ""
	for _, l := range lines {
		switch {
		case hasPrefix(l, prefix):
			if header != "" {
				stray++ // the previous header lost its PDU
			}
			header = l
		case header != "" && isHexLine(l):
			recs = append(recs, storedRecord{header: header, pdu: l})
			header = ""
		default:
			stray++
		}
	}
	if header != "" {
		stray++
	}
	return recs, stray
}

// strayLines counts the lines of a reply that start with none of prefixes.
func strayLines(lines []string, prefixes ...string) int {
	n := 0
next:
	for _, l := range lines {
		for _, p := range prefixes {
			if hasPrefix(l, p) {
				continue next
			}
		}
		n++
	}
	return n
}

// isHexLine reports whether line is a non-empty run of hex digits, the
// form of a PDU in PDU mode. An odd length is allowed: such a PDU is
// malformed, and the malformed path hands it over before deleting it.
func isHexLine(line string) bool {
	if line == "" {
		return false
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
