package agent

import "testing"

// TestSameRecipient: a report's recipient matches the number sent to in
// national or international form, but numbers whose significant digits
// are too few to tell people apart (all zeros, "0000000012") match only
// themselves; the old rule, which trimmed the zeros and then compared
// suffixes, let them match any number ending like them, or every number.
func TestSameRecipient(t *testing.T) {
	tests := []struct {
		sent, reported string
		want           bool
	}{
		{"+33612345678", "+33612345678", true},
		{"+33612345678", "0612345678", true},
		{"0612345678", "+33612345678", true},
		{"+33612345678", "0033612345678", true},
		{"+33612345678", "33612345678", true},
		{"+447911123456", "07911123456", true},
		{"+4512345678", "12345678", true}, // no trunk prefix (Denmark)
		{"+33612345678", "+33612345679", false},
		{"+33612345678", "0612345679", false},
		{"+33612345678", "612345", false},
		{"MyBank", "mybank", true},
		{"MyBank", "OtherBank", false},
		{"+33600000012", "0000000012", false},
		{"0000000012", "+33600000012", false},
		{"+33612345678", "+00000000", false},
		{"+00000000", "+33612345678", false},
		{"+00000000", "00000000", true},
		{"", "", true},
	}
	for _, tt := range tests {
		if got := sameRecipient(tt.sent, tt.reported); got != tt.want {
			t.Errorf("sameRecipient(%q, %q) = %v, want %v", tt.sent, tt.reported, got, tt.want)
		}
	}
}
