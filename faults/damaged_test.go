//go:build faults

package faults

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/internal/damage"
	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem/modemsim"
	"github.com/simhook/simhook/webhook"
)

// TestDamagedOutboxAtStart stops the agent process with events it had not
// delivered (the receiver was down), damages outbox.db in each of the ways
// a power cut does, and starts it again. Each time it must serve within
// 10 s (it used to exit, a crash loop under Restart=on-failure), move the
// file aside, deliver every SMS injected afterwards, and `simhook outbox
// salvage` must re-queue what the damaged file still held.
func TestDamagedOutboxAtStart(t *testing.T) {
	l := newLab(t, lab.Options{Stopped: true, Capacity: 200})
	ctx := bounded(t, 6*time.Minute)
	state := filepath.Join(l.Dir, "state")
	dbPath := filepath.Join(state, "outbox.db")
	injected := map[string]bool{}
	inject := func(text string) {
		t.Helper()
		if _, err := l.Modems[0].InjectSMS(modemsim.SMS{From: "+33612345678", Text: text}); err != nil {
			t.Fatal(err)
		}
		injected[text] = true
	}
	arrived := func(texts []string) int {
		seen := map[string]bool{}
		for _, ev := range l.EventsOf(webhook.ReceiveSMS) {
			seen[ev.ReceiveSMS.Text] = true
		}
		n := 0
		for _, s := range texts {
			if seen[s] {
				n++
			}
		}
		return n
	}
	type row struct {
		damage, detected, aside   string
		ready, firstSMS           time.Duration
		after, afterOK            int
		before, salvaged, restore int
	}
	var rows []row
	for i, k := range damage.Kinds {
		// Undelivered events in the file: the receiver is down.
		p, err := l.StartProcess(ctx, binary)
		if err != nil {
			t.Fatalf("%s: start before damage: %v", k.Name, err)
		}
		l.ReceiverStop()
		var before []string
		for j := range 30 {
			s := fmt.Sprintf("%d before %s %d", i, k.Name, j)
			inject(s)
			before = append(before, s)
		}
		// The events are committed once the SIM is empty (lab.WaitFor
		// wakes on webhooks only, and none arrive now).
		for deadline := time.Now().Add(30 * time.Second); len(l.Modems[0].Stored("SM")) > 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d SMS still on the SIM\n%s", k.Name, len(l.Modems[0].Stored("SM")), p.Output())
			}
		}
		if err := p.Stop(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		if err := k.Apply(dbPath, uint64(i+1)); err != nil {
			t.Fatal(err)
		}
		if err := l.ReceiverStart(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		p, err = l.StartProcess(ctx, binary)
		if err != nil {
			t.Fatalf("%s: the agent does not serve after the damage: %v", k.Name, err)
		}
		r := row{damage: k.Name, ready: time.Since(start), before: len(before)}
		var after []string
		for j := range 5 {
			s := fmt.Sprintf("%d after %s %d", i, k.Name, j)
			inject(s)
			after = append(after, s)
		}
		if err := l.WaitFor(ctx, func() bool { return arrived(after[:1]) == 1 }, "the first SMS after the damage"); err != nil {
			t.Errorf("%s: %v", k.Name, err)
		}
		r.firstSMS = time.Since(start)
		if err := l.WaitFor(ctx, func() bool { return arrived(after) == len(after) }, "every SMS after the damage"); err != nil {
			t.Errorf("%s: %v", k.Name, err)
		}
		r.after, r.afterOK = len(after), arrived(after)
		moved, _ := filepath.Glob(dbPath + ".damaged-*")
		r.detected = "no"
		if len(moved) > 0 {
			r.detected, r.aside = "yes", filepath.Base(moved[len(moved)-1])
			stats, err := exec.Command(binary, "outbox", "stats", "--socket", l.SocketPath()).CombinedOutput()
			if err != nil || !strings.Contains(string(stats), r.aside) {
				t.Errorf("%s: outbox stats does not name %s: %v\n%s", k.Name, r.aside, err, stats)
			}
			out, err := exec.Command(binary, "outbox", "salvage", "--socket", l.SocketPath(), moved[len(moved)-1]).CombinedOutput()
			if err != nil {
				t.Errorf("%s: salvage: %v\n%s", k.Name, err, out)
			}
			if i := strings.Index(string(out), "re-queued "); i >= 0 {
				fmt.Sscanf(string(out[i:]), "re-queued %d", &r.salvaged)
			}
			t.Logf("%s: salvage: %s", k.Name, strings.TrimSpace(string(out)))
			for _, f := range moved {
				os.Rename(f, filepath.Join(l.Dir, filepath.Base(f)+fmt.Sprint(i))) // one damaged file per round in the glob
			}
		} else {
			r.salvaged = -1
		}
		if err := l.WaitFor(bounded(t, 20*time.Second), func() bool { return arrived(before) >= r.salvaged && r.salvaged >= 0 || r.salvaged < 0 }, "the salvaged SMS"); err != nil {
			t.Errorf("%s: %v", k.Name, err)
		}
		r.restore = arrived(before)
		if r.ready > 10*time.Second {
			t.Errorf("%s: serving %s after start, want <= 10s\n%s", k.Name, r.ready, p.Output())
		}
		if err := p.Stop(10 * time.Second); err != nil {
			t.Error(err)
		}
		rows = append(rows, r)
	}
	t.Logf("%-30s %-8s %-38s %10s %12s %9s %s", "damage", "detected", "moved aside as", "start→API", "start→1st SMS", "after", "before: salvaged / arrived of")
	for _, r := range rows {
		t.Logf("%-30s %-8s %-38s %10s %12s %4d/%-4d %d / %d of %d", r.damage, r.detected, r.aside, r.ready.Round(time.Millisecond), r.firstSMS.Round(time.Millisecond), r.afterOK, r.after, r.salvaged, r.restore, r.before)
	}
	// Every SMS injected after a damage arrived (checked above); those before
	// it arrive only as far as salvage could read them, so tally is not used.
	if st := l.Receiver.Stats(); st.Rejected > 0 {
		t.Errorf("the receiver rejected %d requests", st.Rejected)
	}
}
