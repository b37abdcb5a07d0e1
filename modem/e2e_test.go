package modem

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simhook/simhook/internal/clock"
	"github.com/simhook/simhook/modem/modemsim"
)

// recorder is a Handler that keeps what the phone produced.
type recorder struct {
	mu      sync.Mutex
	msgs    []*Message
	reports []*StatusReport
	calls   []CallEvent
	state   State
	// malformed are the PDUs handed to HandleMalformed.
	malformed [][]byte
	fail      bool // refuse messages (as when the outbox cannot commit)
	onSMS     func(*Message)
}

func (r *recorder) HandleSMS(_ context.Context, m *Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("not now")
	}
	if r.onSMS != nil {
		r.onSMS(m)
	}
	r.msgs = append(r.msgs, m)
	return nil
}
func (r *recorder) HandleMalformed(_ context.Context, _ int, _ int, pdu []byte, _ error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.malformed = append(r.malformed, pdu)
	return nil
}
func (r *recorder) HandleStatusReport(_ context.Context, s *StatusReport) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reports = append(r.reports, s)
	return nil
}
func (r *recorder) HandleCall(_ context.Context, c CallEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
}
func (r *recorder) HandleState(s State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state = s
}

func (r *recorder) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.msgs) }
func (r *recorder) up() bool   { r.mu.Lock(); defer r.mu.Unlock(); return r.state.Status == "up" }

// runPhone runs a phone on the simulator until the test ends. Unless the
// test brings its own logger or trace, the phone's log and AT trace go to a
// journal of their last lines; if the test fails, the journal, the phone's
// state, the modem's last commands and any fake clock's timers are logged.
func runPhone(t *testing.T, m *modemsim.Modem, h Handler, tune func(*Config)) *Phone {
	t.Helper()
	cfg := Config{ID: 1, Port: m.Path(), DeliveryReports: true, ProbeInterval: 300 * time.Millisecond,
		SweepInterval: 2 * time.Second, RingGap: 2 * time.Second, Backoff: Backoff{Initial: 50 * time.Millisecond, Max: 300 * time.Millisecond}}
	if tune != nil {
		tune(&cfg)
	}
	var j *journal
	if cfg.Logger == nil && !cfg.Trace {
		j = &journal{max: 300}
		cfg.Logger = slog.New(slog.NewTextHandler(j, &slog.HandlerOptions{Level: slog.LevelDebug}))
		cfg.Trace = true
	}
	p := NewPhone(cfg, h)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	t.Cleanup(func() {
		if t.Failed() {
			dumpPhone(t, p, m, cfg.Clock, j)
		}
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			buf := make([]byte, 1<<20)
			t.Errorf("the phone did not stop; goroutines:\n%s", buf[:runtime.Stack(buf, true)])
		}
	})
	return p
}

// dumpPhone logs what a failed test needs to see of a phone: its state and
// counters, the modem's last commands, the fake clock's timers and the
// journal of the phone's log and trace (j may be nil).
func dumpPhone(t *testing.T, p *Phone, m *modemsim.Modem, clk clock.Clock, j *journal) {
	t.Helper()
	t.Logf("phone state %+v", p.State())
	t.Logf("phone stats %+v", p.Stats())
	cmds := m.Commands()
	t.Logf("the modem's last commands (of %d): %q", len(cmds), cmds[max(0, len(cmds)-30):])
	if c, ok := clk.(*countingClock); ok {
		clk = c.Fake
	}
	if f, ok := clk.(*clock.Fake); ok {
		t.Logf("fake time %v after the start, timers armed for %v", f.Now().Sub(fakeStart), relative(f, f.Deadlines()))
	}
	if j != nil {
		t.Logf("the phone's last log and trace lines:\n%s", j.String())
	}
}

// journal keeps the last max writes made to it (one slog record each).
type journal struct {
	mu    sync.Mutex
	max   int
	lines []string
	lost  int
}

func (j *journal) Write(b []byte) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.lines) >= j.max {
		j.lines = j.lines[1:]
		j.lost++
	}
	j.lines = append(j.lines, string(b))
	return len(b), nil
}

func (j *journal) String() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return fmt.Sprintf("(%d earlier lines not kept)\n%s", j.lost, strings.Join(j.lines, ""))
}

// testContext is the context of a test's calls into a phone (match, Send):
// it ends after a generous while, so that a phone waiting on a fake clock
// nobody moves fails the test instead of hanging it.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReceiveMixedExactlyOnce injects 200 SMS of every kind; each must come
// up once, byte-exact, and leave the SIM only after it was handled.
func TestReceiveMixedExactlyOnce(t *testing.T) {
	m := modemsim.Start(t, modemsim.Options{Capacity: map[string]int{"SM": 1000}})
	rec := &recorder{}
	rec.onSMS = func(msg *Message) {
		// Still on the SIM while being handled.
		stored := m.Stored("SM")
		for _, i := range msg.Indexes {
			if _, ok := stored[i]; !ok {
				t.Errorf("part %d of %q deleted before it was handled", i, msg.Text)
			}
		}
	}
	runPhone(t, m, rec, func(c *Config) { quietly(t, c) })
	eventually(t, 10*time.Second, "phone up", rec.up)
	texts := []string{"plain", `ext €[]{}~^|\`, "emoji 🚲🎉", strings.Repeat("three parts ", 30), strings.Repeat("ten parts. ", 135)}
	want := map[string]bool{}
	for i := range 200 {
		text := fmt.Sprintf("%d %s", i, texts[i%len(texts)])
		want[text] = true
		if _, err := m.InjectSMS(modemsim.SMS{From: "+33612345678", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 60*time.Second, "200 messages", func() bool { return rec.count() >= 200 })
	time.Sleep(200 * time.Millisecond)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.msgs) != 200 {
		t.Errorf("%d messages, want 200", len(rec.msgs))
	}
	for _, msg := range rec.msgs {
		if !want[msg.Text] {
			t.Errorf("unexpected or duplicated text %q", msg.Text)
		}
		delete(want, msg.Text)
		if msg.Originator != "+33612345678" || msg.Incomplete {
			t.Errorf("%q: originator %q incomplete %v", msg.Text, msg.Originator, msg.Incomplete)
		}
	}
	if left := len(m.Stored("SM")); left != 0 {
		t.Errorf("%d slots left on the SIM", left)
	}
}

// TestUnplugReplugLosesNothing pulls the modem out 10 times during traffic.
func TestUnplugReplugLosesNothing(t *testing.T) {
	link := filepath.Join(t.TempDir(), "usb-sim-if00")
	m := modemsim.Start(t, modemsim.Options{Link: link, Capacity: map[string]int{"SM": 200}})
	rec := &recorder{}
	runPhone(t, m, rec, func(c *Config) { quietly(t, c) })
	eventually(t, 10*time.Second, "phone up", rec.up)
	n := 0
	for round := range 10 {
		for range 3 {
			if _, err := m.InjectSMS(modemsim.SMS{From: "+33612345678", Text: fmt.Sprintf("msg %d", n)}); err != nil {
				t.Fatal(err)
			}
			n++
		}
		if err := m.Unplug(); err != nil {
			t.Fatal(err)
		}
		if _, err := m.InjectSMS(modemsim.SMS{From: "+33612345678", Text: fmt.Sprintf("msg %d", n)}); err != nil {
			t.Fatal(err)
		}
		n++
		time.Sleep(100 * time.Millisecond)
		if err := m.Replug(); err != nil {
			t.Fatalf("replug %d: %v", round, err)
		}
		eventually(t, 10*time.Second, "phone back up", rec.up)
	}
	eventually(t, 20*time.Second, "every message", func() bool { return rec.count() >= n })
	seen := map[string]int{}
	rec.mu.Lock()
	for _, msg := range rec.msgs {
		seen[msg.Text]++
	}
	rec.mu.Unlock()
	for i := range n {
		// A message handled just before an unplug, whose delete failed, is
		// remembered by the phone and deleted after the reconnect, not
		// offered again: exactly once.
		if c := seen[fmt.Sprintf("msg %d", i)]; c != 1 {
			t.Errorf("msg %d came up %d times", i, c)
		}
	}
	if left := len(m.Stored("SM")); left != 0 {
		t.Errorf("%d slots left on the SIM", left)
	}
}

// TestSendAndReports sends short and long texts and matches their reports.
func TestSendAndReports(t *testing.T) {
	m := modemsim.Start(t, modemsim.Options{})
	m.SetSendRule("+33600000002", modemsim.SendRule{Outcome: modemsim.Failed})
	m.SetSendRule("+33600000003", modemsim.SendRule{RefuseCMS: 21})
	rec := &recorder{}
	p := runPhone(t, m, rec, func(c *Config) {
		quietly(t, c)
		c.RefSource = func() (uint16, error) { return 41, nil }
	})
	eventually(t, 10*time.Second, "phone up", rec.up)
	ctx := testContext(t)
	long := strings.Repeat("A long text with € and more. ", 12)
	refs, err := p.Send(ctx, "+33600000001", long, true)
	if err != nil || len(refs) != 3 {
		t.Fatalf("long send: %v %v", refs, err)
	}
	if _, err := p.Send(ctx, "+33600000002", "fails", true); err != nil {
		t.Fatal(err)
	}
	_, err = p.Send(ctx, "+33600000003", "refused", true)
	var cms *CMSError
	if !errors.As(err, &cms) || cms.Code != 21 || Temporary(err) {
		t.Fatalf("refused send: %v", err)
	}
	sent := m.SentMessages()
	if len(sent) != 2 || sent[0].Text != long || sent[0].To != "+33600000001" || sent[0].Parts[0].ConcatRef != 42 {
		t.Fatalf("the modem got %+v", sent)
	}
	eventually(t, 10*time.Second, "4 reports", func() bool { rec.mu.Lock(); defer rec.mu.Unlock(); return len(rec.reports) == 4 })
	classes := map[string][]ReportClass{}
	for _, r := range rec.reports {
		classes[r.Recipient] = append(classes[r.Recipient], r.Class)
	}
	if len(classes["+33600000001"]) != 3 || classes["+33600000002"][0] != Failed || classes["+33600000001"][0] != Delivered {
		t.Errorf("report classes %v", classes)
	}
	if _, err := Parts(strings.Repeat("x", 153*256)); !errors.Is(err, ErrTooLong) {
		t.Errorf("Parts of a 256-part text: %v", err)
	}
}

// TestCallsStartAndEnd covers a hang-up, a withheld number and rejection.
func TestCallsStartAndEnd(t *testing.T) {
	tests := []struct {
		name   string
		number string
		reject bool
		end    func(*modemsim.Call) // how the call ends when not rejected
	}{
		{"caller hangs up", "+33698765432", false, (*modemsim.Call).Hangup},
		{"answered elsewhere", "+33698765432", false, (*modemsim.Call).AnsweredElsewhere},
		{"withheld", "", false, (*modemsim.Call).Hangup},
		{"rejected", "+33611111111", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk, m, rec, _ := fakePhone(t, modemsim.Options{RingInterval: 200 * time.Millisecond}, func(c *Config) {
				c.RejectCalls = tt.reject
				c.RingGap = 2 * time.Second
			})
			up := clk.Now()
			call := m.InjectCall(tt.number)
			eventually(t, 5*time.Second, "call start", func() bool { rec.mu.Lock(); defer rec.mu.Unlock(); return len(rec.calls) >= 1 })
			if !tt.reject {
				tt.end(call)
			}
			// Answered elsewhere, the call ends at the next +CLCC check.
			drive(t, clk, m, "call end", func() bool { rec.mu.Lock(); defer rec.mu.Unlock(); return len(rec.calls) >= 2 })
			if d := clk.Now().Sub(up); d > clccEvery {
				t.Errorf("the call ended %v after it started, want at most %v", d, clccEvery)
			}
			// A late RING (rings come every 200 ms until the call ends)
			// must not start a second call: none is being followed.
			time.Sleep(300 * time.Millisecond)
			waitDeadlines(t, clk, "no call followed", up.Add(30*time.Second), up.Add(10*time.Minute))
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.calls) != 2 || rec.calls[0].Ended || !rec.calls[1].Ended || rec.calls[0].Number != tt.number || rec.calls[1].Rejected != tt.reject {
				t.Errorf("calls %+v", rec.calls)
			}
			if call.RejectedByClient() != tt.reject {
				t.Errorf("modem saw rejection %v", call.RejectedByClient())
			}
		})
	}
}
