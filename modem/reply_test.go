package modem

import (
	"fmt"
	"reflect"
	"testing"
)

// TestStoredRecords: garbage that reached the port in the middle of a
// +CMGR or +CMGL reply is counted and skipped, and a header whose PDU was
// replaced by junk yields no record (its message stays on the modem)
// rather than a "malformed" PDU that would be deleted.
func TestStoredRecords(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  []storedRecord
		stray int
	}{
		{"one message", []string{"+CMGR: 0,,24", "0791AB"}, []storedRecord{{"+CMGR: 0,,24", "0791AB"}}, 0},
		{"junk before", []string{"junk", "[2J>>>", "+CMGR: 0,,24", "0791ab"}, []storedRecord{{"+CMGR: 0,,24", "0791ab"}}, 2},
		{"junk after", []string{"+CMGR: 0,,24", "0791AB", "+CMTI"}, []storedRecord{{"+CMGR: 0,,24", "0791AB"}}, 1},
		{"PDU replaced by junk", []string{"+CMGR: 0,,24", "junk"}, nil, 2},
		{"header without PDU", []string{"+CMGR: 0,,24"}, nil, 1},
		{"odd PDU kept for the malformed path", []string{"+CMGR: 0,,3", "040B9"}, []storedRecord{{"+CMGR: 0,,3", "040B9"}}, 0},
		{"list with junk between", []string{"+CMGL: 1,0,,24", "00AA", "garbage!", "+CMGL: 2,0,,24", "00BB"},
			[]storedRecord{{"+CMGL: 1,0,,24", "00AA"}, {"+CMGL: 2,0,,24", "00BB"}}, 1},
		{"list header lost its PDU", []string{"+CMGL: 1,0,,24", "+CMGL: 2,0,,24", "00BB"},
			[]storedRecord{{"+CMGL: 2,0,,24", "00BB"}}, 1},
		{"empty", nil, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := "+CMGR:"
			if len(tt.lines) > 0 && hasPrefix(tt.lines[0], "+CMGL:") {
				prefix = "+CMGL:"
			}
			got, stray := storedRecords(tt.lines, prefix)
			if !reflect.DeepEqual(got, tt.want) || stray != tt.stray {
				t.Errorf("got %v, %d stray; want %v, %d", got, stray, tt.want, tt.stray)
			}
		})
	}
}

// TestStrayLines counts reply lines with none of the expected prefixes.
func TestStrayLines(t *testing.T) {
	tests := []struct {
		lines    []string
		prefixes []string
		want     int
	}{
		{[]string{"+CSQ: 20,99"}, []string{"+CSQ:"}, 0},
		{[]string{"junk", "+CSQ: 20,99", "+CMTI"}, []string{"+CSQ:"}, 2},
		{nil, []string{"+CREG:"}, 0},
		{[]string{"x"}, nil, 1},
	}
	for _, tt := range tests {
		if got := strayLines(tt.lines, tt.prefixes...); got != tt.want {
			t.Errorf("strayLines(%q, %q) = %d, want %d", tt.lines, tt.prefixes, got, tt.want)
		}
	}
}

// TestInvalidIndex: only +CMS ERROR 321 says a slot is empty; a busy SIM
// or an unknown error says nothing about it, so the message is read again.
func TestInvalidIndex(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&CMSError{Code: 321}, true},
		{fmt.Errorf("read: %w", &CMSError{Code: 321}), true},
		{&CMSError{Code: 314}, false},
		{&CMSError{Code: 500}, false},
		{ErrTimeout, false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := invalidIndex(tt.err); got != tt.want {
			t.Errorf("invalidIndex(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
