package modem

import (
	"context"
	"testing"
	"time"

	"github.com/simhook/simhook/internal/clock"
)

// TestCallTrackerOrder drives the call tracker with indications in the
// orders modems send them; each script must give exactly the events listed.
func TestCallTrackerOrder(t *testing.T) {
	type step struct {
		urc  string        // RING, +CLIP number, NO CARRIER, or "" for a pause
		wait time.Duration // pause before the step
	}
	tests := []struct {
		name   string
		script []step
		want   []CallEvent
	}{
		{"RING then +CLIP", []step{{urc: "RING"}, {urc: "+CLIP +33612345678"}, {urc: "RING"}, {urc: "NO CARRIER"}},
			[]CallEvent{{Number: "+33612345678"}, {Ended: true}}},
		{"+CLIP then RING", []step{{urc: "+CLIP +33612345678"}, {urc: "RING"}, {urc: "NO CARRIER"}},
			[]CallEvent{{Number: "+33612345678"}, {Ended: true}}},
		{"a RING just after the end is the same call", []step{{urc: "+CLIP +33612345678"}, {urc: "NO CARRIER"}, {urc: "RING"}, {urc: "+CLIP +33612345678"}},
			[]CallEvent{{Number: "+33612345678"}, {Ended: true}}},
		{"a new call after the quiet time", []step{{urc: "+CLIP +1"}, {urc: "NO CARRIER"}, {urc: "+CLIP +2", wait: afterEnd}, {urc: "NO CARRIER"}},
			[]CallEvent{{Number: "+1"}, {Ended: true}, {Number: "+2"}, {Ended: true}}},
		{"a RING a moment before the quiet time ends is the same call", []step{{urc: "+CLIP +1"}, {urc: "NO CARRIER"}, {urc: "RING", wait: afterEnd - time.Millisecond}},
			[]CallEvent{{Number: "+1"}, {Ended: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			clk := clock.NewFake(fakeStart)
			c := newCallTracker(NewPhone(Config{ID: 2, Clock: clk}, rec))
			ctx := context.Background()
			for _, s := range tt.script {
				clk.Advance(s.wait)
				switch {
				case s.urc == "RING":
					c.ring(ctx, nil)
				case s.urc == "NO CARRIER":
					c.hungUp(ctx)
				case len(s.urc) > 6 && s.urc[:6] == "+CLIP ":
					c.clip(ctx, nil, s.urc[6:])
				}
			}
			if len(rec.calls) != len(tt.want) {
				t.Fatalf("events %+v, want %+v", rec.calls, tt.want)
			}
			for i, w := range tt.want {
				g := rec.calls[i]
				if g.Ended != w.Ended || g.Number != w.Number || g.Phone != 2 {
					t.Errorf("event %d: %+v, want %+v", i, g, w)
				}
			}
		})
	}
}
