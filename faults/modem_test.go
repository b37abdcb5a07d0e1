//go:build faults

package faults

import (
	"fmt"
	"testing"
	"time"

	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem/modemsim"
)

// TestUnplugReplugUnderTraffic pulls the modem out and plugs it back 20
// times while SMS keep arriving, including while it is out (they wait on the
// SIM). Everything must arrive once the modem is back.
func TestUnplugReplugUnderTraffic(t *testing.T) {
	l := newLab(t, lab.Options{Capacity: 500})
	ctx := bounded(t, 4*time.Minute)
	m := l.Modems[0]
	injected := make(map[string]bool)
	n := 0
	inject := func(k int) {
		for range k {
			text := fmt.Sprintf("replug %04d", n)
			if _, err := m.InjectSMS(modemsim.SMS{From: "+33612345678", Text: text}); err != nil {
				t.Fatalf("inject %d: %v", n, err)
			}
			injected[text] = true
			n++
		}
	}
	for round := range 20 {
		inject(5)
		time.Sleep(time.Duration(50+round*10) * time.Millisecond)
		if err := m.Unplug(); err != nil {
			t.Fatalf("unplug %d: %v", round, err)
		}
		inject(3) // arrives while the modem is out: it waits on the SIM
		time.Sleep(200 * time.Millisecond)
		if err := m.Replug(); err != nil {
			t.Fatalf("replug %d: %v", round, err)
		}
		// Traffic goes on while the phone reconnects; the next pull waits
		// until it is back, so every round is a real reconnection.
		inject(2)
		waitUp(t, l, 15*time.Second)
	}
	waitAll(t, ctx, l, len(injected))
	tally(t, l, injected)
	if p := l.Agent().Phones()[0]; p.Reconnects < 20 {
		t.Errorf("the phone reports %d reconnects after 20 replugs", p.Reconnects)
	}
}

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
