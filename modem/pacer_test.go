package modem

import (
	"testing"
	"time"
)

func TestPacer(t *testing.T) {
	type end struct {
		up, missing bool
		want        time.Duration
	}
	s := time.Second
	tests := []struct {
		name string
		ends []end
	}{
		{"failures double up to the cap", []end{{false, false, s}, {false, false, 2 * s}, {false, false, 4 * s}, {false, false, 8 * s}, {false, false, 8 * s}}},
		{"a missing device is never paced nor grows the backoff", []end{{false, true, 0}, {false, true, 0}, {false, true, 0}, {false, false, s}}},
		{"reaching up resets the backoff", []end{{false, false, s}, {false, false, 2 * s}, {false, false, 4 * s}, {true, false, s}, {false, false, 2 * s}}},
		{"up then unplugged, six flaps", []end{{true, true, 0}, {true, true, 0}, {true, true, 0}, {true, true, 0}, {true, true, 0}, {true, true, 0}, {true, false, s}}},
		{"up then gone while present resets", []end{{false, false, s}, {false, false, 2 * s}, {true, true, 0}, {false, false, s}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPacer(Backoff{Initial: s, Max: 8 * s})
			for i, e := range tt.ends {
				if got := p.ended(e.up, e.missing); got != e.want {
					t.Errorf("end %d (up %v, missing %v): wait %s, want %s", i, e.up, e.missing, got, e.want)
				}
			}
		})
	}
}
