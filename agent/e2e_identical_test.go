package agent_test

import (
	"testing"
	"time"

	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem/modemsim"
	"github.com/simhook/simhook/webhook"
)

// TestIdenticalSMSAreDistinctEvents: byte-identical SMS (same sender, same
// text, same service-centre second) are different messages: sent to two
// SIMs, twice to one SIM at once, or twice to one SIM with the second
// stored in the slot the first was deleted from. Each must become its own
// event; a content-only dedupe key merged them and the driver deleted the
// second unreported.
func TestIdenticalSMSAreDistinctEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		phones int
		// modems are where each copy is injected; waitBetween makes the
		// second wait until the first has been deleted (its slot reused).
		modems      []int
		waitBetween bool
	}{
		{"two SIMs", 2, []int{0, 1}, false},
		{"one SIM, two slots", 1, []int{0, 0}, false},
		{"one SIM, the same slot reused", 1, []int{0, 0}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := startLab(t, lab.Options{Phones: tt.phones})
			ctx := testContext(t, 30*time.Second)
			scts := time.Now().Truncate(time.Second)
			for i, mi := range tt.modems {
				idx, err := l.Modems[mi].InjectSMS(modemsim.SMS{From: "+33612345678", Text: "ALARM zone 1", SCTS: scts})
				if err != nil {
					t.Fatal(err)
				}
				if tt.waitBetween && i == 0 {
					if err := l.WaitEvents(ctx, webhook.ReceiveSMS, 1); err != nil {
						t.Fatal(err)
					}
					waitUntil(t, 10*time.Second, "the first deleted", func() bool { return len(l.Modems[mi].Stored("SM")) == 0 })
					t.Logf("first copy was in slot %v", idx)
				}
			}
			if err := l.WaitEvents(ctx, webhook.ReceiveSMS, 2); err != nil {
				t.Fatalf("%v; events: %d", err, l.Count(webhook.ReceiveSMS))
			}
			for _, m := range l.Modems {
				waitUntil(t, 10*time.Second, "empty SIMs", func() bool { return len(m.Stored("SM")) == 0 })
			}
			ids := map[int64]bool{}
			for _, ev := range l.EventsOf(webhook.ReceiveSMS) {
				ids[ev.ReceiveSMS.ID] = true
			}
			if len(ids) != 2 {
				t.Errorf("event ids %v, want two distinct", ids)
			}
		})
	}
}
