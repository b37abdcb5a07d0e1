//go:build faults

package faults

import (
	"fmt"
	"testing"
	"time"

	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem/modemsim"
)

// TestModemMisbehaviour makes the modem hang, babble, answer ERROR 1,000
// times and run out of storage. After each fault the phone must be up again
// and the SMS sent meanwhile delivered.
func TestModemMisbehaviour(t *testing.T) {
	faults := []struct {
		name  string
		apply func(m *modemsim.Modem)
		clear func(m *modemsim.Modem)
	}{
		{"hang", func(m *modemsim.Modem) { m.Hang(3 * time.Second) }, nil},
		{"garbage", func(m *modemsim.Modem) {
			m.Garbage([]byte{0x00, 0xff, 0xfe, '\r', '\n', 0x1b, 'x', 0x80, 0x81})
			m.JunkLine("+CMTI: garbled,,,")
			m.JunkLine("^RSSI:99")
			m.JunkLine("\x01\x02 NO CARRIER? OK ERROR")
		}, nil},
		{"error storm", func(m *modemsim.Modem) { m.ErrorStorm(1000) }, nil},
		{"storage full", func(m *modemsim.Modem) { m.SetStorageFull("SM", true) }, func(m *modemsim.Modem) { m.SetStorageFull("SM", false) }},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			l := newLab(t, lab.Options{})
			ctx := bounded(t, 2*time.Minute)
			m := l.Modems[0]
			injected := map[string]bool{}
			for i := range 5 {
				text := fmt.Sprintf("%s before %d", f.name, i)
				if _, err := m.InjectSMS(modemsim.SMS{From: "+33612345678", Text: text}); err != nil {
					t.Fatal(err)
				}
				injected[text] = true
			}
			f.apply(m)
			for i := range 5 {
				text := fmt.Sprintf("%s during %d", f.name, i)
				if _, err := m.InjectSMS(modemsim.SMS{From: "+33612345678", Text: text}); err == nil {
					injected[text] = true
				} // a full SIM refuses: the network keeps the message, not us
			}
			time.Sleep(time.Second)
			if f.clear != nil {
				f.clear(m)
			}
			for i := range 5 {
				text := fmt.Sprintf("%s after %d", f.name, i)
				if _, err := m.InjectSMS(modemsim.SMS{From: "+33612345678", Text: text}); err != nil {
					t.Fatal(err)
				}
				injected[text] = true
			}
			waitAll(t, ctx, l, len(injected))
			tally(t, l, injected)
			if a := l.Agent(); a == nil || a.Phones()[0].Status != "up" {
				t.Errorf("phone not up after %s", f.name)
			}
		})
	}
}

// waitUp waits until the lab's phone is up.
func waitUp(t *testing.T, l *lab.Lab, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for l.Agent().Phones()[0].Status != "up" {
		if time.Now().After(deadline) {
			t.Fatalf("phone still %s after %s", l.Agent().Phones()[0].Status, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
