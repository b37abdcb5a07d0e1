package modem

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestDecodeStoredVectors decodes the PDUs of testdata/deliver_pdus.txt the
// way the receiver does and checks sender, encoding, timestamp and text.
func TestDecodeStoredVectors(t *testing.T) {
	for _, f := range vectors(t, "testdata/deliver_pdus.txt", "|", 5) {
		_, d, err := decodeStored(f[0])
		if err != nil {
			t.Errorf("%s: %v", f[0], err)
			continue
		}
		r := &receiver{p: &Phone{cfg: Config{ID: 3}.withDefaults()}}
		m, err := r.message([]*storedPart{{index: 1, seq: 1, line: f[0], pdu: d}}, 1, false)
		if err != nil {
			t.Errorf("%s: %v", f[0], err)
			continue
		}
		want, _ := time.Parse(time.RFC3339, f[3])
		_, gotZone := m.SCTS.Zone()
		_, wantZone := want.Zone()
		if m.Originator != f[1] || m.Encoding != f[2] || !m.SCTS.Equal(want) || gotZone != wantZone || m.Text != f[4] {
			t.Errorf("%s: got %q %q %v %q, want %q", f[0], m.Originator, m.Encoding, m.SCTS, m.Text, f[1:])
		}
	}
}

// vectors reads a testdata file of test vectors, one per line of n fields
// split by sep; blank lines and lines starting with # are skipped. A file
// without a vector fails the test.
func vectors(t *testing.T, path, sep string, n int) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		fields := strings.Split(line, sep)
		if len(fields) != n {
			t.Fatalf("%s: bad test line %q", path, line)
		}
		out = append(out, fields)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no vectors", path)
	}
	return out
}

func TestLineParsers(t *testing.T) {
	clip := []struct{ line, want string }{
		{`+CLIP: "+33612345678",145,,,,0`, "+33612345678"},
		{`+CLIP: "33612345678",145`, "+33612345678"},
		{`+CLIP: "0612345678",129`, "0612345678"},
		{`+CLIP: "",128,,,,1`, ""},
		{`+CLIP: `, ""},
		{`+CLIP: "unterminated`, ""},
	}
	for _, tt := range clip {
		if got := parseCLIP(tt.line); got != tt.want {
			t.Errorf("parseCLIP(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
	reg := []struct{ line, want string }{
		{"+CREG: 0,1", "home"}, {"+CREG: 5", "roaming"}, {"+CREG: 2,2,\"1A2B\",\"01C3\"", "searching"},
		{"+CREG: 0,3", "denied"}, {"+CREG: 0,0", "not registered"}, {"+CREG: x", "unknown"},
	}
	for _, tt := range reg {
		if got := registrationName(tt.line); got != tt.want {
			t.Errorf("registrationName(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
	idx := []struct {
		line, st string
		idx      int
		ok       bool
	}{
		{`+CMTI: "SM",3`, "SM", 3, true}, {`+CDSI: "ME",12`, "ME", 12, true}, {`+CMTI: "SM"`, "", 0, false}, {`+CMTI: "SM",x`, "", 0, false},
	}
	for _, tt := range idx {
		st, i, ok := parseStorageIndex(tt.line)
		if st != tt.st || i != tt.idx || ok != tt.ok {
			t.Errorf("parseStorageIndex(%q) = %q %d %v", tt.line, st, i, ok)
		}
	}
	cpms := []struct {
		line        string
		used, total int
		ok          bool
	}{
		{`+CPMS: "SM",3,30,"SM",4,30,"SM",5,30`, 5, 30, true},
		{`+CPMS: 1,20,2,20,7,50`, 7, 50, true},
		{`+CPMS: 1,20`, 1, 20, true},
		{`+CPMS: ("SM","ME"),("SM","ME")`, 0, 0, false},
	}
	for _, tt := range cpms {
		u, n, ok := parseCPMS(tt.line, 2)
		if u != tt.used || n != tt.total || ok != tt.ok {
			t.Errorf("parseCPMS(%q) = %d %d %v", tt.line, u, n, ok)
		}
	}
}

func TestClassification(t *testing.T) {
	urcs := []struct {
		line, expect string
		urc          bool
	}{
		{"RING", "", true}, {"+CREG: 0,1", "+CREG:", false}, {"+CREG: 1", "+CSQ:", true}, {"^ICCID: 89", "+CCID:", false},
		{"^RSSI:18", "+CCID:", true}, {"+CSQ: 17,99", "+CSQ:", false}, {"OK", "", false}, {"+QIND: SMS DONE", "", true},
	}
	for _, tt := range urcs {
		if got := isURC(tt.line, tt.expect); got != tt.urc {
			t.Errorf("isURC(%q, %q) = %v", tt.line, tt.expect, got)
		}
	}
	classes := []struct {
		st   int
		want ReportClass
	}{{0x00, Delivered}, {0x02, Delivered}, {0x20, Pending}, {0x30, Pending}, {0x40, Failed}, {0x45, Failed}, {0x60, Failed}, {0x7f, Failed}}
	for _, tt := range classes {
		if got := ClassOf(tt.st); got != tt.want {
			t.Errorf("ClassOf(%#x) = %v, want %v", tt.st, got, tt.want)
		}
	}
	temp := []struct {
		err  error
		want bool
	}{
		{ErrTimeout, true}, {ErrNotReady, true}, {&CMSError{Code: 42}, true}, {&CMSError{Code: 21}, false},
		{&CMSError{Code: 28}, false}, {ErrCommand, false}, {errors.New("other"), false},
		{fmt.Errorf("%w: %w", ErrUnconfirmed, ErrTimeout), true},
		{fmt.Errorf("%w: %w", ErrUnconfirmed, ErrClosed), false},
		{fmt.Errorf("%w: %w", ErrUnconfirmed, context.Canceled), false},
		{fmt.Errorf("%w: OK without a reference", ErrUnconfirmed), false},
	}
	for _, tt := range temp {
		if got := Temporary(tt.err); got != tt.want {
			t.Errorf("Temporary(%v) = %v", tt.err, got)
		}
	}
	for s, ok := range map[string]bool{"+33612345678": true, "0612345678": true, "3601": true, "+": false, "12": false, "+33 6": false, "abc": false} {
		if err := ValidNumber(s); (err == nil) != ok {
			t.Errorf("ValidNumber(%q) = %v", s, err)
		}
	}
	parts := []struct {
		text string
		want int
	}{{"", 1}, {strings.Repeat("a", 160), 1}, {strings.Repeat("a", 161), 2}, {strings.Repeat("€", 80), 1}, {strings.Repeat("€", 81), 2}, {strings.Repeat("é", 160), 1}, {strings.Repeat("ж", 70), 1}, {strings.Repeat("ж", 71), 2}, {"😀", 1}, {strings.Repeat("😀", 36), 2}}
	for _, tt := range parts {
		if got, err := Parts(tt.text); got != tt.want || err != nil {
			t.Errorf("Parts(%d chars) = %d %v, want %d", len([]rune(tt.text)), got, err, tt.want)
		}
	}
}
