package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/modem"
)

// ok returns n scripted single-part successes.
func okSteps(n int) []fakeStep {
	steps := make([]fakeStep, n)
	for i := range steps {
		steps[i] = fakeStep{handed: 3, accepted: 3} // enough for a 3-part text
	}
	return steps
}

// settle dispatches until a round starts no send, and returns the rounds.
func (h *queueHarness) settle(t *testing.T) int {
	t.Helper()
	calls := func() int {
		n := 0
		for _, p := range h.phones {
			p.mu.Lock()
			n += p.calls
			p.mu.Unlock()
		}
		return n
	}
	for i := 1; i < 10000; i++ {
		before := calls()
		h.round(t)
		if calls() == before {
			return i
		}
	}
	t.Fatal("the queue never settled")
	return 0
}

// states counts the submitted requests by state, and checks that each
// finished one has exactly one send_sms event and the others none.
func (h *queueHarness) states(t *testing.T, ids []uint64) (map[string]int, map[int]int) {
	t.Helper()
	events := h.sendEvents(t)
	states, byPhone := map[string]int{}, map[int]int{}
	for _, id := range ids {
		r, err := h.a.st.Send(id)
		if err != nil {
			t.Fatal(err)
		}
		states[r.State]++
		want := 0
		if r.Finished() {
			want = 1
			byPhone[r.UsedPhone]++
		}
		if got := len(events[int64(id)]); got != want {
			t.Errorf("send %d (%s): %d send_sms events, want %d", id, r.State, got, want)
		}
	}
	return states, byPhone
}

func (h *queueHarness) submitN(t *testing.T, n int, req SendRequest) []uint64 {
	t.Helper()
	var ids []uint64
	for range n {
		st, err := h.a.Submit(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, st.ID)
	}
	return ids
}

// TestDayLimitAcrossThreePhones: three phones with day: 10 and 40
// single-part requests. The first day each phone sends 10; the other 10
// wait for the reset and go then; none fails, none is sent twice.
func TestDayLimitAcrossThreePhones(t *testing.T) {
	h := newQueueHarnessCfg(t, func(c *config.Config) {
		c.Sending.QueueTimeout = config.D(48 * time.Hour)
		for i := range c.Phones {
			c.Phones[i].Limits = config.Limits{Day: 10, DayReset: "00:00"}
		}
	}, 1, 2, 3)
	for _, p := range h.phones {
		p.steps = okSteps(40)
	}
	ids := h.submitN(t, 40, SendRequest{To: "+33612345678", Text: "hi"})
	h.settle(t)
	states, byPhone := h.states(t, ids)
	if states[stateSent] != 30 || states[stateQueued] != 10 {
		t.Fatalf("first day: %v, want 30 sent and 10 queued", states)
	}
	for id := 1; id <= 3; id++ {
		if byPhone[id] != 10 {
			t.Errorf("first day: phone %d sent %d, want 10", id, byPhone[id])
		}
	}
	// A waiting request says it waits for a day limit, until midnight.
	st, err := h.a.SendStatusOf(ids[39])
	if err != nil {
		t.Fatal(err)
	}
	midnight := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	if st.Waiting == nil || st.Waiting.For != waitLimit || st.Waiting.Until != midnight.Format(time.RFC3339) || !strings.Contains(st.Waiting.Detail, "day limit") {
		t.Errorf("waiting = %+v, want the day limit until %v", st.Waiting, midnight)
	}
	// The queue wakes at the reset by itself.
	if next := h.q.dispatch(context.Background()); !next.Equal(midnight) {
		t.Errorf("the queue wakes at %v, want the reset %v", next, midnight)
	}
	h.clk.Set(midnight)
	h.settle(t)
	states, byPhone = h.states(t, ids)
	if states[stateSent] != 40 {
		t.Fatalf("after the reset: %v, want 40 sent", states)
	}
	total := 0
	for id := 1; id <= 3; id++ {
		total += h.phones[id].calls
		if byPhone[id] < 13 || byPhone[id] > 14 {
			t.Errorf("over both days phone %d sent %d, want 13 or 14", id, byPhone[id])
		}
	}
	if total != 40 {
		t.Errorf("the phones were asked %d times, want 40", total)
	}
}

// TestMinuteLimitThreePartMessages: minute: 6 and 3-part messages. Two go
// at once; the third waits until the first one's parts are a minute old.
func TestMinuteLimitThreePartMessages(t *testing.T) {
	h := newQueueHarnessCfg(t, func(c *config.Config) {
		c.Phones[0].Limits = config.Limits{Minute: 6, DayReset: "00:00"}
	}, 1)
	h.phones[1].steps = okSteps(3)
	text := strings.Repeat("three parts ", 35) // 420 GSM characters: 3 parts
	if n, _ := modem.Parts(text); n != 3 {
		t.Fatalf("the text has %d parts, want 3", n)
	}
	start := h.clk.Now()
	var ids []uint64
	for i := range 3 {
		ids = append(ids, h.submitN(t, 1, SendRequest{To: "+33612345678", Text: text})...)
		h.settle(t)
		if i < 2 {
			h.clk.Advance(10 * time.Second)
		}
	}
	states, _ := h.states(t, ids)
	if states[stateSent] != 2 || states[stateQueued] != 1 {
		t.Fatalf("%v, want 2 sent and 1 waiting", states)
	}
	st, _ := h.a.SendStatusOf(ids[2])
	until := start.Add(time.Minute)
	if st.Waiting == nil || st.Waiting.For != waitLimit || st.Waiting.Phone != 1 || st.Waiting.Until != until.Format(time.RFC3339) {
		t.Errorf("waiting = %+v, want phone 1's minute limit until %v", st.Waiting, until)
	}
	h.clk.Set(until.Add(-time.Nanosecond))
	h.settle(t)
	if r, _ := h.a.st.Send(ids[2]); r.State != stateQueued {
		t.Fatalf("sent before the minute passed: %s", r.State)
	}
	h.clk.Set(until)
	h.settle(t)
	states, _ = h.states(t, ids)
	if states[stateSent] != 3 {
		t.Errorf("%v, want all 3 sent once the minute passed", states)
	}
}

// TestSIMRefusalFailsOver: phone 1's SIM refuses every send (+CMS ERROR 8,
// operator determined barring). Its requests are sent by phone 2, each in
// one send_sms; phone 1 is tried last afterwards; a request that names
// phone 1 stays on it and fails.
func TestSIMRefusalFailsOver(t *testing.T) {
	h := newQueueHarness(t, 1, 2)
	barred := fmt.Errorf("send: %w", &modem.CMSError{Code: 8})
	for range 10 {
		h.phones[1].steps = append(h.phones[1].steps, fakeStep{handed: 1, err: barred})
	}
	h.phones[2].steps = okSteps(10)
	ids := h.submitN(t, 5, SendRequest{To: "+33612345678", Text: "hi"})
	h.settle(t)
	states, byPhone := h.states(t, ids)
	if states[stateSent] != 5 || byPhone[2] != 5 {
		t.Fatalf("states %v by phone %v, want 5 sent by phone 2", states, byPhone)
	}
	if got := h.phones[1].calls; got != 1 {
		t.Errorf("phone 1 was asked %d times, want once (then tried last)", got)
	}
	for _, id := range ids {
		r, _ := h.a.st.Send(id)
		if r.Attempts > 2 {
			t.Errorf("send %d took %d attempts", id, r.Attempts)
		}
	}
	if got := h.a.counter.get("sends_failed_over"); got != 1 {
		t.Errorf("sends_failed_over = %d, want 1", got)
	}
	pinned := h.submitN(t, 1, SendRequest{To: "+33612345678", Text: "hi", Phone: 1})
	h.settle(t)
	r, _ := h.a.st.Send(pinned[0])
	if r.State != stateFailed || r.UsedPhone != 1 || r.Attempts != 1 {
		t.Errorf("a request naming phone 1: %s on phone %d after %d attempts, want failed on 1 after 1", r.State, r.UsedPhone, r.Attempts)
	}
}

// TestFailoverCountsAttemptsAcrossPhones: every phone's SIM refuses; the
// request tries each once and fails, with max_attempts counting across
// phones.
func TestFailoverCountsAttemptsAcrossPhones(t *testing.T) {
	h := newQueueHarness(t, 1, 2, 3, 4)
	barred := fmt.Errorf("send: %w", &modem.CMSError{Code: 310}) // SIM not inserted
	for _, p := range h.phones {
		p.steps = []fakeStep{{handed: 1, err: barred}}
	}
	ids := h.submitN(t, 1, SendRequest{To: "+33612345678", Text: "hi"})
	h.settle(t)
	states, _ := h.states(t, ids)
	r, _ := h.a.st.Send(ids[0])
	if states[stateFailed] != 1 || r.Attempts != 3 || len(r.Avoid) != 2 {
		t.Errorf("state %v attempts %d avoid %v, want failed after 3 attempts (max_attempts) on 3 phones", states, r.Attempts, r.Avoid)
	}
}

// TestSendGapPausesAPhone: send_gap {5s, 5s} holds the phone's next send
// for 5 seconds after the last one ended.
func TestSendGapPausesAPhone(t *testing.T) {
	h := newQueueHarnessCfg(t, func(c *config.Config) {
		c.Phones[0].SendGap = config.SendGap{Min: config.D(5 * time.Second), Max: config.D(5 * time.Second)}
	}, 1)
	h.phones[1].steps = okSteps(2)
	ids := h.submitN(t, 2, SendRequest{To: "+33612345678", Text: "hi"})
	h.settle(t)
	st, _ := h.a.SendStatusOf(ids[1])
	gapEnd := h.clk.Now().Add(5 * time.Second)
	if st.Waiting == nil || st.Waiting.For != waitSendGap || st.Waiting.Until != gapEnd.Format(time.RFC3339) {
		t.Fatalf("second request waiting = %+v, want the send gap until %v", st.Waiting, gapEnd)
	}
	if next := h.q.dispatch(context.Background()); !next.Equal(gapEnd) {
		t.Errorf("the queue wakes at %v, want %v", next, gapEnd)
	}
	h.clk.Set(gapEnd)
	h.settle(t)
	if states, _ := h.states(t, ids); states[stateSent] != 2 {
		t.Errorf("%v, want both sent after the gap", states)
	}
}

// TestQueueTimeoutWhileWaitingForALimit: a request that waits for a limit
// longer than sending.queue_timeout fails, and its last_error says what it
// waited for.
func TestQueueTimeoutWhileWaitingForALimit(t *testing.T) {
	h := newQueueHarnessCfg(t, func(c *config.Config) {
		c.Phones[0].Limits = config.Limits{Day: 1, DayReset: "00:00"}
	}, 1)
	h.phones[1].steps = okSteps(2)
	ids := h.submitN(t, 2, SendRequest{To: "+33612345678", Text: "hi"})
	h.settle(t)
	h.clk.Advance(10*time.Minute + time.Second)
	h.settle(t)
	states, _ := h.states(t, ids)
	r, _ := h.a.st.Send(ids[1])
	if states[stateSent] != 1 || r.State != stateFailed || !strings.Contains(r.LastError, "queue_timeout") || !strings.Contains(r.LastError, "day limit") {
		t.Errorf("states %v, second %s with last_error %q; want it failed for the queue timeout while waiting for the day limit", states, r.State, r.LastError)
	}
}

// TestSubmitRefusesWhatNoPhoneCanSend: a destination no phone's allow list
// admits, a phone that may not send there, and a message larger than every
// phone's limits are refused at once, not queued to time out.
func TestSubmitRefusesWhatNoPhoneCanSend(t *testing.T) {
	h := newQueueHarnessCfg(t, func(c *config.Config) {
		c.Phones[0].Allow = []string{"+33"}
		c.Phones[0].Limits = config.Limits{Minute: 6, DayReset: "00:00"}
		c.Phones[1].Allow = []string{"+32"}
	}, 1, 2)
	nineParts := strings.Repeat("x", 9*153)
	tests := []struct {
		name string
		req  SendRequest
		want string // "" = accepted
	}{
		{"allowed", SendRequest{To: "+33612345678", Text: "hi"}, ""},
		{"allowed on the other phone", SendRequest{To: "+32470000001", Text: "hi"}, ""},
		{"no phone may", SendRequest{To: "+44700000001", Text: "hi"}, "no phone may send to +44700000001"},
		{"the named phone may not", SendRequest{To: "+32470000001", Text: "hi", Phone: 1}, "phone 1 may not send to +32470000001"},
		{"larger than the only phone's limit", SendRequest{To: "+33612345678", Text: nineParts}, "the message has 9 parts"},
		{"a phone without limits takes it", SendRequest{To: "+32470000001", Text: nineParts}, ""},
	}
	for _, tt := range tests {
		_, err := h.a.Submit(context.Background(), tt.req)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tt.name, err)
		case tt.want != "" && (!errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: err %v, want ErrInvalidRequest containing %q", tt.name, err, tt.want)
		}
	}
}

// TestPhoneDownBeforeHandOverFailsOver: phone 1 went away before its modem
// had the message; the request goes to phone 2 at once, and is sent once.
func TestPhoneDownBeforeHandOverFailsOver(t *testing.T) {
	h := newQueueHarness(t, 1, 2)
	h.phones[1].steps = []fakeStep{{handed: 0, err: fmt.Errorf("send: %w", modem.ErrNotReady)}}
	h.phones[2].steps = okSteps(1)
	h.phones[2].busy = true // phone 2 is busy when the request is first placed
	ids := h.submitN(t, 1, SendRequest{To: "+33612345678", Text: "hi"})
	h.round(t)
	h.phones[2].Release()
	h.settle(t)
	states, byPhone := h.states(t, ids)
	r, _ := h.a.st.Send(ids[0])
	if states[stateSent] != 1 || byPhone[2] != 1 || r.Attempts != 2 || !r.NotBefore.IsZero() {
		t.Errorf("states %v by phone %v, attempts %d, not before %v; want sent by phone 2 on the second attempt, at once",
			states, byPhone, r.Attempts, r.NotBefore)
	}
}
