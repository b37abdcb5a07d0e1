package agent_test

import (
	"testing"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/store"
	"github.com/simhook/simhook/webhook"
)

// TestInboundCallsEndToEnd rings the modem from a number and from a
// withheld one, and checks the start and end events share id and uid.
func TestInboundCallsEndToEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, number string
		wantOrigin   *string
		end          string // how the call ends: hangup | elsewhere
	}{
		{"caller hangs up", "+33698765432", ptr("+33698765432"), "hangup"},
		{"withheld number", "", nil, "hangup"},
		{"answered elsewhere", "+33611111111", ptr("+33611111111"), "elsewhere"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := startLab(t, lab.Options{})
			ctx := testContext(t, 30*time.Second)
			c := l.Modems[0].InjectCall(tt.number)
			if err := l.WaitEvents(ctx, webhook.InboundCall, 1); err != nil {
				c.Hangup()
				t.Fatal(err)
			}
			if tt.end == "hangup" {
				c.Hangup()
			} else {
				c.AnsweredElsewhere()
			}
			if err := l.WaitEvents(ctx, webhook.InboundCall, 2); err != nil {
				t.Fatal(err)
			}
			evs := l.EventsOf(webhook.InboundCall)
			start, end := evs[0].InboundCall, evs[1].InboundCall
			if start.End != nil || end.End == nil {
				t.Fatalf("end fields: start %v, end %v; want null then a date", start.End, end.End)
			}
			if start.ID != end.ID || start.UID != end.UID || start.UID == "" {
				t.Errorf("start id/uid %d/%q, end %d/%q: must match", start.ID, start.UID, end.ID, end.UID)
			}
			if !equalPtr(start.Origin, tt.wantOrigin) {
				t.Errorf("origin %v, want %v", deref(start.Origin), deref(tt.wantOrigin))
			}
			if start.Direction != "inbound" || start.IDPhone != 1 || start.IDUser != 1 || start.Destination != nil {
				t.Errorf("start = %+v", start)
			}
			if c.RejectedByClient() {
				t.Error("calls: ignore must not hang up")
			}
		})
	}
}

// TestRejectCallsEndToEnd checks that calls: reject hangs up on the caller.
func TestRejectCallsEndToEnd(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Options{PhoneYAML: "calls: reject"})
	ctx := testContext(t, 30*time.Second)
	c := l.Modems[0].InjectCall("+33622222222")
	if err := l.WaitEvents(ctx, webhook.InboundCall, 2); err != nil {
		c.Hangup()
		t.Fatal(err)
	}
	if !c.RejectedByClient() {
		t.Fatal("the modem never saw ATH or AT+CHUP")
	}
}

func ptr(s string) *string { return &s }

func equalPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func deref(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}

// TestCallAfterALostEndIsReported: when the end of a call could not be
// committed (a full disk), the call stays recorded as ringing. The next call
// must still be reported: the stale one is closed first, with its own uid.
func TestCallAfterALostEndIsReported(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Options{})
	ctx := testContext(t, 30*time.Second)
	stale := store.Call{ID: 999, UID: "stale-call", Start: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Origin: "+33600000001"}
	err := agent.SeedCall(mustAgent(t, l), 1, stale)
	if err != nil {
		t.Fatal(err)
	}
	rang := time.Now().UTC().Truncate(time.Second)
	c := l.Modems[0].InjectCall("+33698765432")
	if err := l.WaitEvents(ctx, webhook.InboundCall, 2); err != nil {
		c.Hangup()
		t.Fatal(err)
	}
	c.Hangup()
	if err := l.WaitEvents(ctx, webhook.InboundCall, 3); err != nil {
		t.Fatal(err)
	}
	byUID := map[string][]*webhook.InboundCallBody{}
	for _, ev := range l.EventsOf(webhook.InboundCall) {
		byUID[ev.InboundCall.UID] = append(byUID[ev.InboundCall.UID], ev.InboundCall)
	}
	if evs := byUID["stale-call"]; len(evs) != 1 || evs[0].End == nil || evs[0].ID != 999 {
		t.Errorf("stale call events %+v, want one end with id 999", evs)
	}
	delete(byUID, "stale-call")
	if len(byUID) != 1 {
		t.Fatalf("calls %v, want the new call under one uid", byUID)
	}
	for _, evs := range byUID {
		if len(evs) != 2 || evs[0].End != nil || evs[1].End == nil || deref(evs[0].Origin) != "+33698765432" {
			t.Fatalf("new call events %+v, want its start then its end", evs)
		}
		// The new call starts at its first RING, not at a later one after
		// the old call was timed out.
		start, err := time.ParseInLocation(time.DateTime, evs[0].Start, time.UTC)
		if err != nil || start.Sub(rang) > time.Second {
			t.Errorf("the new call starts at %s (%v), want its first RING at %s", evs[0].Start, err, rang.Format(time.DateTime))
		}
	}
}
