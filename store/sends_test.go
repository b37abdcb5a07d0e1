package store

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/simhook/simhook/modem"
)

func ids(sends []Send) []uint64 {
	out := []uint64{}
	for _, s := range sends {
		out = append(out, s.ID)
	}
	return out
}

// TestDueFollowsTheIndex checks that the queue reads only requests that are
// queued and due, earliest due first, and says when the next one is due.
func TestDueFollowsTheIndex(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		setup    func(t *testing.T, s *Store)
		now      time.Time
		wantDue  []uint64
		wantNext time.Time
	}{
		{
			name: "new requests are due at once, oldest first",
			setup: func(t *testing.T, s *Store) {
				for range 3 {
					mustAdd(t, s, Send{To: "+33600000001", Text: "a", Created: t0})
				}
			},
			now:     t0,
			wantDue: []uint64{1, 2, 3},
		},
		{
			name: "a retry waits for its time",
			setup: func(t *testing.T, s *Store) {
				r := mustAdd(t, s, Send{To: "+33600000001", Text: "a", Created: t0})
				mustAdd(t, s, Send{To: "+33600000001", Text: "b", Created: t0})
				r.NotBefore = t0.Add(time.Minute)
				if err := s.SaveSend(ctx, r); err != nil {
					t.Fatal(err)
				}
			},
			now:      t0.Add(30 * time.Second),
			wantDue:  []uint64{2},
			wantNext: t0.Add(time.Minute),
		},
		{
			name: "sending and finished requests are not read",
			setup: func(t *testing.T, s *Store) {
				a := mustAdd(t, s, Send{To: "+33600000001", Text: "a", Created: t0})
				b := mustAdd(t, s, Send{To: "+33600000001", Text: "b", Created: t0})
				mustAdd(t, s, Send{To: "+33600000001", Text: "c", Created: t0})
				if _, err := s.Begin(ctx, a.ID, 1, 0, t0); err != nil {
					t.Fatal(err)
				}
				b.State, b.Status, b.SentAt = Sent, "unknown", t0
				if err := s.SaveSend(ctx, b); err != nil {
					t.Fatal(err)
				}
			},
			now:     t0,
			wantDue: []uint64{3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openTest(t)
			tt.setup(t, s)
			due, next, skipped, err := s.Due(tt.now, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(due), tt.wantDue) {
				t.Errorf("due = %v, want %v", ids(due), tt.wantDue)
			}
			if !next.Equal(tt.wantNext) {
				t.Errorf("next = %v, want %v", next, tt.wantNext)
			}
			if skipped != 0 {
				t.Errorf("skipped %d", skipped)
			}
		})
	}
}

func mustAdd(t *testing.T, s *Store, r Send) Send {
	t.Helper()
	r, err := s.AddSend(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestBeginOnlyOnce checks that a request can be begun only while queued and
// due: a second Begin, or one before its time, gets ErrNotQueued.
func TestBeginOnlyOnce(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	r := mustAdd(t, s, Send{To: "+33600000001", Text: "a", Created: t0})
	got, err := s.Begin(ctx, r.ID, 2, 7, t0)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != Sending || got.UsedPhone != 2 || got.Attempts != 1 || got.ReportMark != 7 {
		t.Errorf("begun = %+v", got)
	}
	if _, err := s.Begin(ctx, r.ID, 2, 7, t0); !errors.Is(err, ErrNotQueued) {
		t.Errorf("second Begin: %v, want ErrNotQueued", err)
	}
	open, err := s.Open()
	if err != nil || !slices.Equal(ids(open), []uint64{r.ID}) {
		t.Errorf("Open = %v, %v", ids(open), err)
	}
	got.State, got.NotBefore = Queued, t0.Add(time.Hour)
	if err := s.SaveSend(ctx, got); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Begin(ctx, r.ID, 2, 7, t0); !errors.Is(err, ErrNotQueued) {
		t.Errorf("Begin before its time: %v, want ErrNotQueued", err)
	}
	if open, _ := s.Open(); len(open) != 0 {
		t.Errorf("Open after requeue = %v", ids(open))
	}
}

// TestRefsMatchAndPrune checks that references lead to their request and
// go with it when it is pruned, unless another request took them since.
func TestRefsMatchAndPrune(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	old := mustAdd(t, s, Send{To: "+33600000001", Text: "a", Created: t0})
	old.State, old.Status, old.SentAt, old.UsedPhone, old.Refs, old.Parts = Sent, "unknown", t0, 1, []int{5, 6}, []string{"", ""}
	if err := s.SaveSend(ctx, old); err != nil {
		t.Fatal(err)
	}
	// A later request on the same phone reuses reference 6.
	nw := mustAdd(t, s, Send{To: "+33600000002", Text: "b", Created: t0})
	nw.State, nw.Status, nw.SentAt, nw.UsedPhone, nw.Refs, nw.Parts = Sent, "unknown", t0.Add(48*time.Hour), 1, []int{6}, []string{""}
	if err := s.SaveSend(ctx, nw); err != nil {
		t.Fatal(err)
	}
	if r, e, ok, err := s.MatchRef(1, 5); err != nil || !ok || r.ID != old.ID || e.Part != 0 {
		t.Fatalf("MatchRef(1,5) = %d %+v %v %v", r.ID, e, ok, err)
	}
	p, next, err := s.Prune(ctx, t0.Add(24*time.Hour+time.Second), Retention{Sends: 24 * time.Hour, MalformedCount: 10, MalformedAge: time.Hour, Reports: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if p.Sends != 1 {
		t.Errorf("pruned %d sends, want 1", p.Sends)
	}
	if want := nw.SentAt.Add(24*time.Hour + tick); !next.Equal(want) {
		t.Errorf("next prune = %v, want %v", next, want)
	}
	if _, err := s.Send(old.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("pruned send still there: %v", err)
	}
	if _, _, ok, _ := s.MatchRef(1, 5); ok {
		t.Error("reference 5 of the pruned send still matches")
	}
	if r, _, ok, _ := s.MatchRef(1, 6); !ok || r.ID != nw.ID {
		t.Errorf("reference 6 lost by the newer send (ok=%v id=%d)", ok, r.ID)
	}
}

// TestMigrateIndexesAnOldFile opens a file written before the indexes (no
// agent/meta, sends only in agent/sends) and checks that every request is
// found through the new indexes.
func TestMigrateIndexesAnOldFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	old := map[string][]byte{}
	for _, r := range []Send{
		{ID: 1, To: "+33600000001", Text: "q", State: Queued, Created: t0},
		{ID: 2, To: "+33600000001", Text: "s", State: Sending, UsedPhone: 1, Handed: 1, Created: t0},
		{ID: 3, To: "+33600000001", Text: "d", State: Sent, Status: "delivered", UsedPhone: 1, Created: t0, SentAt: t0.Add(time.Minute)},
		{ID: 4, To: "+33600000001", Text: "r", State: Queued, Created: t0, NotBefore: t0.Add(time.Hour)},
	} {
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		old[string(u64(r.ID))] = data
	}
	old[string(u64(5))] = []byte("{not json")
	writeRaw(t, path, "agent/sends", old)

	s, _ := openAt(t, path)
	due, next, _, err := s.Due(t0, 0)
	if err != nil || !slices.Equal(ids(due), []uint64{1}) || !next.Equal(t0.Add(time.Hour)) {
		t.Errorf("Due = %v next %v err %v", ids(due), next, err)
	}
	open, err := s.Open()
	if err != nil || !slices.Equal(ids(open), []uint64{2}) {
		t.Errorf("Open = %v, %v", ids(open), err)
	}
	done, err := s.SentSince(t0)
	if err != nil || !slices.Equal(ids(done), []uint64{3}) {
		t.Errorf("SentSince = %v, %v", ids(done), err)
	}
	// The id sequence of the old bucket carries on: a raw write leaves it
	// at 0, so the store must not overwrite the old records with new ids.
	r := mustAdd(t, s, Send{To: "+33600000001", Text: "new", Created: t0})
	for id, text := range map[uint64]string{1: "q", 3: "d"} {
		if got, err := s.Send(id); err != nil || got.Text != text {
			t.Errorf("old request %d after a new one (id %d) = %+v, %v", id, r.ID, got, err)
		}
	}
}

// TestPruneIsDueWhenItDeletes checks that the time Prune says the next
// record is due is a time at which Prune deletes it: a loop that sleeps
// until then must not wake to find nothing to do (and spin on a clock that
// stands still).
func TestPruneIsDueWhenItDeletes(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	ret := Retention{Sends: time.Hour, MalformedAge: 2 * time.Hour, MalformedCount: 10, Reports: 3 * time.Hour}
	r := mustAdd(t, s, Send{To: "+33600000001", Text: "a", Created: t0})
	r.State, r.Status, r.SentAt = Sent, "unknown", t0
	if err := s.SaveSend(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMalformed(ctx, MalformedPDU{Phone: 1, PDU: "00", Error: "x", At: t0.Format(time.RFC3339)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.KeepReport(ctx, 1, modem.StatusReport{Phone: 1, Ref: 1}, t0); err != nil {
		t.Fatal(err)
	}
	h := mustAdd(t, s, Send{To: "+33600000001", Text: "b", Created: t0})
	h.UsedPhone, h.Handed = 2, 1
	if err := s.SaveHanded(ctx, h, t0); err != nil {
		t.Fatal(err)
	}
	now := t0
	want := []Pruned{{Sends: 1}, {Malformed: 1}, {Reports: 1}, {Usage: 1}}
	for i, w := range want {
		_, next, err := s.Prune(ctx, now, ret)
		if err != nil {
			t.Fatal(err)
		}
		if next.IsZero() {
			t.Fatalf("step %d: nothing due, want %+v", i, w)
		}
		now = next
		p, _, err := s.Prune(ctx, now, ret)
		if err != nil {
			t.Fatal(err)
		}
		if p != w {
			t.Errorf("step %d: at the due time %v Prune deleted %+v, want %+v", i, now.Sub(t0), p, w)
		}
	}
}

// TestUsageCountsHandOvers checks that the hand-overs SaveHanded counts come
// back per phone, oldest first, from the time asked for.
func TestUsageCountsHandOvers(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	hand := func(phone int, text string, parts int, at time.Time) {
		r := mustAdd(t, s, Send{To: "+33600000001", Text: text, Created: at})
		r.UsedPhone = phone
		for part := 1; part <= parts; part++ {
			r.Handed = part
			if err := s.SaveHanded(ctx, r, at.Add(time.Duration(part)*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
		}
	}
	hand(1, "a", 1, t0)
	hand(2, "b", 3, t0.Add(time.Minute))
	hand(1, "c", 2, t0.Add(2*time.Minute))
	tests := []struct {
		since time.Time
		want  map[int]int
	}{
		{t0.Add(-time.Hour), map[int]int{1: 3, 2: 3}},
		{t0.Add(30 * time.Second), map[int]int{1: 2, 2: 3}},
		{t0.Add(90 * time.Second), map[int]int{1: 2}},
		{t0.Add(time.Hour), map[int]int{}},
	}
	for _, tt := range tests {
		got, err := s.Usage(tt.since)
		if err != nil {
			t.Fatal(err)
		}
		counts := map[int]int{}
		for phone, times := range got {
			counts[phone] = len(times)
			if !slices.IsSortedFunc(times, func(a, b time.Time) int { return a.Compare(b) }) {
				t.Errorf("phone %d: times out of order: %v", phone, times)
			}
		}
		if !maps.Equal(counts, tt.want) {
			t.Errorf("Usage(%v) counts %v, want %v", tt.since.Sub(t0), counts, tt.want)
		}
	}
	r, err := s.Send(3)
	if err != nil || r.Handed != 2 {
		t.Errorf("the record saved with the last hand-over: handed %d, err %v", r.Handed, err)
	}
}

// TestAddSendOnceRecognisesARedelivery: a request added twice under the
// same client id is stored once; another id is another request; once the
// request is pruned its id may be used again.
func TestAddSendOnceRecognisesARedelivery(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	a, existed, err := s.AddSendOnce(ctx, Send{To: "+33600000001", Text: "a", Created: t0, RequestID: "req-1"})
	if err != nil || existed {
		t.Fatalf("first add: %v, existed %v", err, existed)
	}
	again, existed, err := s.AddSendOnce(ctx, Send{To: "+33600000001", Text: "a", Created: t0, RequestID: "req-1"})
	if err != nil || !existed || again.ID != a.ID {
		t.Fatalf("redelivery: id %d existed %v err %v; want id %d, existed", again.ID, existed, err, a.ID)
	}
	b, existed, err := s.AddSendOnce(ctx, Send{To: "+33600000001", Text: "b", Created: t0, RequestID: "req-2"})
	if err != nil || existed || b.ID == a.ID {
		t.Fatalf("another id: %+v existed %v err %v", b, existed, err)
	}
	if _, _, err := s.AddSendOnce(ctx, Send{To: "+33600000001", Text: "c"}); err == nil {
		t.Error("a request without an id was accepted")
	}
	a.State, a.Status, a.SentAt = Sent, "unknown", t0
	if err := s.SaveSend(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Prune(ctx, t0.Add(2*time.Hour), Retention{Sends: time.Hour, MalformedAge: time.Hour, MalformedCount: 1, Reports: time.Hour}); err != nil {
		t.Fatal(err)
	}
	c, existed, err := s.AddSendOnce(ctx, Send{To: "+33600000001", Text: "a", Created: t0, RequestID: "req-1"})
	if err != nil || existed || c.ID == a.ID {
		t.Errorf("after pruning: %+v existed %v err %v; want a new request", c, existed, err)
	}
}

// TestDropSendOnlyUnclaimed: an unclaimed fleet request can be dropped
// without a trace (its id may come again); any other request cannot.
func TestDropSendOnlyUnclaimed(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t)
	held := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	u, _, err := s.AddSendOnce(ctx, Send{To: "+33600000001", Text: "a", Created: t0, RequestID: "r1", Unclaimed: true, NotBefore: held})
	if err != nil {
		t.Fatal(err)
	}
	c := mustAdd(t, s, Send{To: "+33600000001", Text: "b", Created: t0})
	if got, err := s.Unclaimed(); err != nil || len(got) != 1 || got[0].ID != u.ID {
		t.Fatalf("Unclaimed = %v, %v; want request %d", ids(got), err, u.ID)
	}
	if due, _, _, _ := s.Due(t0, 0); len(due) != 1 || due[0].ID != c.ID {
		t.Errorf("due %v: the unclaimed request must be held", ids(due))
	}
	if err := s.DropSend(ctx, c.ID); !errors.Is(err, ErrNotDroppable) {
		t.Errorf("dropping a claimed request: %v, want ErrNotDroppable", err)
	}
	if err := s.DropSend(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(u.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("the dropped request is still there: %v", err)
	}
	if _, existed, err := s.AddSendOnce(ctx, Send{To: "+33600000001", Text: "a", Created: t0, RequestID: "r1"}); err != nil || existed {
		t.Errorf("the dropped request's id: existed %v, err %v; want it free again", existed, err)
	}
}
