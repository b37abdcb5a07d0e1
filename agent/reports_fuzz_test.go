package agent

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/modem"
	"github.com/simhook/simhook/outbox"
	"github.com/simhook/simhook/store"
)

// fuzzRecipients are the numbers FuzzReportMatching sends to and reports
// name, by the person they reach: forms in one group are one recipient
// (national, international, with the 00 prefix), forms of different groups
// are different recipients, and a report naming one must never update a
// send to another. Each group's digits differ from the others' in their
// last 8, so no suffix rule can take one for another, save the degenerate
// forms of the last groups.
var fuzzRecipients = [][]string{
	{"+33612345678", "0612345678", "0033612345678", "33612345678"},
	{"+33612345679", "0612345679"},
	{"+447911123456", "07911123456"},
	{"+33600000012", "0600000012"},
	{"0000000012"},
	{"+00000000"},
	{"MyBank"},
}

// recipientForm returns the form n (modulo the number of forms) and its
// group.
func recipientForm(n byte) (string, int) {
	total := 0
	for _, g := range fuzzRecipients {
		total += len(g)
	}
	i := int(n) % total
	for gi, g := range fuzzRecipients {
		if i < len(g) {
			return g[i], gi
		}
		i -= len(g)
	}
	panic("unreachable")
}

// fuzzRefSpace is how many message references the fuzzed phones use: few,
// so that references are reused as on a busy phone (they are 8 bits).
const fuzzRefSpace = 6

// openSend is a send in progress in FuzzReportMatching.
type openSend struct {
	rec  sendRecord
	mark uint64
}

// fuzzReport is a report FuzzReportMatching handed to a phone.
type fuzzReport struct {
	phone, ref, group int
	class             modem.ReportClass
}

// FuzzReportMatching runs a sequence of sends (begun, parts accepted with
// references that wrap, ended) and delivery reports on two phones through
// the agent's matching, and checks after each step that every part whose
// status changed was changed by a report of the same phone and reference,
// naming the same recipient, with that outcome; that the part was the one
// last given that reference on that phone; that a report changes at most
// one part; and that nothing changes while a send is in progress on the
// report's phone.
func FuzzReportMatching(f *testing.F) {
	// Each step is 3 bytes: kind and phone; an argument (a report's
	// reference, and its outcome in the top bit); a recipient form.
	f.Add([]byte{0, 0, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0})                            // send, accept, end, report
	f.Add([]byte{0, 0, 0, 3, 0, 0, 1, 0, 0, 2, 0, 0})                            // a report during a send
	f.Add([]byte{0, 0, 0, 1, 0, 0, 2, 0, 0, 0, 0, 4, 3, 0, 0, 1, 0, 4, 2, 0, 4}) // a reference reused for another recipient
	f.Add([]byte{0, 0, 3, 1, 0, 0, 2, 0, 0, 3, 0, 11, 3, 0, 12, 3, 0, 13})       // degenerate numbers
	f.Add([]byte{0, 0, 0, 4, 0, 0, 1, 0, 0, 2, 0, 0, 7, 0, 0, 3, 0, 0})          // the other phone
	f.Add([]byte{0, 0, 0, 1, 0, 0, 1, 0, 0, 3, 0x81, 0, 2, 0, 0, 3, 0x80, 0})    // a failed part
	cfg, err := config.Parse([]byte("state_dir: "+f.TempDir()+"\nphones:\n  - id: 1\n    port: /dev/ttyUSB0\n  - id: 2\n    port: /dev/ttyUSB1\n"), "")
	if err != nil {
		f.Fatal(err)
	}
	a, err := New(cfg, Options{})
	if err != nil {
		f.Fatal(err)
	}
	opts := a.outboxOptions(cfg)
	opts.NoSync = true // a fuzz run needs no durability
	a.out, err = outbox.Open(filepath.Join(cfg.StateDir, OutboxFile), opts)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = a.out.Close() })
	if a.st, err = store.Open(context.Background(), a.out); err != nil {
		f.Fatal(err)
	}
	var nextID uint64 // send ids stay unique across runs: events are deduplicated by them
	f.Fuzz(func(t *testing.T, steps []byte) {
		ctx := context.Background()
		if err := a.st.ClearSends(ctx); err != nil {
			t.Fatal(err)
		}
		open := map[int]*openSend{}
		nextRef := map[int]int{}
		holder := map[string][2]uint64{} // refKey → send id, part: who was given the reference last
		var reports []fuzzReport
		before := readSends(t, a)
		for i := 0; i+3 <= len(steps) && i < 3*60; i += 3 {
			kind, phone, arg, form := steps[i]&3, 1+int(steps[i]>>2)&1, steps[i+1], steps[i+2]
			var applied []fuzzReport // reports that may have been applied by this step
			inSend := false
			switch kind {
			case 0: // a send begins
				if open[phone] != nil {
					continue
				}
				to, _ := recipientForm(form)
				nextID++
				s := &openSend{rec: sendRecord{ID: nextID, To: to, Text: "fuzz", StatusReport: true, State: stateSending,
					UsedPhone: phone, Attempts: 1}}
				s.mark, _ = a.st.ReportMark()
				a.beginSend(phone)
				s.rec.ReportMark = s.mark
				if err := a.st.SaveSend(ctx, s.rec); err != nil {
					t.Fatal(err)
				}
				open[phone] = s
			case 1: // the modem accepts a part
				s := open[phone]
				if s == nil || len(s.rec.Refs) == 3 {
					continue
				}
				ref := nextRef[phone] % fuzzRefSpace
				nextRef[phone] = ref + 1 + int(arg)%2 // sometimes a reference goes to another program
				s.rec.Refs = append(s.rec.Refs, ref)
				s.rec.Handed = len(s.rec.Refs)
				if err := a.st.SaveSend(ctx, s.rec); err != nil {
					t.Fatal(err)
				}
				holder[fmt.Sprintf("%d/%d", phone, ref)] = [2]uint64{s.rec.ID, uint64(len(s.rec.Refs) - 1)}
			case 2: // the send ends
				s := open[phone]
				if s == nil {
					continue
				}
				delete(open, phone)
				if err := a.commitSend(ctx, s.rec, stateSent, statusUnknown, s.rec.Refs); err != nil {
					t.Fatal(err)
				}
				a.endSend(ctx, phone, s.mark)
				applied = reports // the kept ones are replayed
			case 3: // a delivery report arrives
				to, group := recipientForm(form)
				rep := modem.StatusReport{Phone: phone, Ref: int(arg&0x7f) % fuzzRefSpace, Recipient: to, Index: -1, Class: modem.Delivered}
				if arg&0x80 != 0 {
					rep.ST, rep.Class = 0x41, modem.Failed
				}
				w := &worker{a: a, id: phone, log: a.log}
				if err := w.HandleStatusReport(ctx, &rep); err != nil {
					t.Fatal(err)
				}
				r := fuzzReport{phone: phone, ref: rep.Ref, group: group, class: rep.Class}
				reports = append(reports, r)
				applied = []fuzzReport{r}
				inSend = open[phone] != nil
			}
			after := readSends(t, a)
			checkReportChanges(t, before, after, applied, holder, inSend)
			before = after
		}
		for phone, s := range open {
			a.endSend(ctx, phone, s.mark)
		}
	})
}

// readSends returns every send record by id.
func readSends(t *testing.T, a *Agent) map[uint64]sendRecord {
	t.Helper()
	out := map[uint64]sendRecord{}
	err := a.st.EachSend(func(r sendRecord) error {
		out[r.ID] = r
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// groupOf returns the recipient group of a number FuzzReportMatching used.
func groupOf(number string) int {
	for gi, g := range fuzzRecipients {
		for _, n := range g {
			if n == number {
				return gi
			}
		}
	}
	return -1
}

// checkReportChanges checks the part statuses that changed in one step
// against the reports that step may have applied.
func checkReportChanges(t *testing.T, before, after map[uint64]sendRecord, applied []fuzzReport, holder map[string][2]uint64, inSend bool) {
	t.Helper()
	var changed []string
	for id, r := range after {
		old := before[id]
		for i, st := range r.Parts {
			if i < len(old.Parts) && old.Parts[i] == st || i >= len(old.Parts) && st == "" {
				continue
			}
			changed = append(changed, fmt.Sprintf("send %d part %d: %q → %q", id, i, partAt(old.Parts, i), st))
			if inSend {
				t.Fatalf("a report changed send %d part %d while a send was in progress on phone %d", id, i, r.UsedPhone)
			}
			if i >= len(r.Refs) {
				t.Fatalf("send %d part %d changed to %q, but it has no reference (refs %v)", id, i, st, r.Refs)
			}
			ref := r.Refs[i]
			if h := holder[fmt.Sprintf("%d/%d", r.UsedPhone, ref)]; h != [2]uint64{id, uint64(i)} {
				t.Fatalf("send %d part %d changed, but reference %d on phone %d was last given to send %d part %d", id, i, ref, r.UsedPhone, h[0], h[1])
			}
			found := false
			for _, rep := range applied {
				want := statusDelivered
				if rep.class == modem.Failed {
					want = statusFailed
				}
				if rep.phone == r.UsedPhone && rep.ref == ref && rep.group == groupOf(r.To) && want == st {
					found = true
					break
				}
			}
			if !found {
				t.Fatalf("send %d (to %q, phone %d) part %d (reference %d) changed to %q, by no report of that phone, reference and recipient among %+v",
					id, r.To, r.UsedPhone, i, ref, st, applied)
			}
		}
	}
	if len(changed) > len(applied) {
		t.Fatalf("%d reports changed %d parts: %v", len(applied), len(changed), changed)
	}
}

// partAt is parts[i], or "" past the end.
func partAt(parts []string, i int) string {
	if i < len(parts) {
		return parts[i]
	}
	return ""
}
