package agent_test

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem/modemsim"
	"github.com/simhook/simhook/webhook"
	"github.com/warthog618/sms/encoding/tpdu"
)

// TestReceiveMixedEndToEnd injects 100 SMS of every encoding over two
// phones and checks that each arrives at the receiver exactly once, verified,
// byte-exact, attributed to the right phone, and that nothing is left on the
// SIMs afterwards.
func TestReceiveMixedEndToEnd(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Options{Phones: 2, Capacity: 200})
	texts := loadTexts(t)
	type sent struct {
		phone int
		from  string
		text  string
	}
	want := make(map[string]sent) // by text, made unique by a counter
	const n = 100
	for i := range n {
		phone := i%2 + 1
		s := sent{phone: phone, from: fmt.Sprintf("+3361234%04d", i), text: fmt.Sprintf("%d %s", i, texts[i%len(texts)])}
		if i%10 == 9 {
			s.from = "MyBank"
		}
		want[s.text] = s
		if _, err := l.Modems[phone-1].InjectSMS(modemsim.SMS{From: s.from, Text: s.text}); err != nil {
			t.Fatalf("inject %d: %v", i, err)
		}
	}
	ctx := testContext(t, 90*time.Second)
	if err := l.WaitEvents(ctx, webhook.ReceiveSMS, n); err != nil {
		t.Fatalf("%v (got %d)", err, l.Count(webhook.ReceiveSMS))
	}
	// Give a duplicate, if the agent produced one, time to show.
	time.Sleep(300 * time.Millisecond)

	seenIDs := make(map[int64]bool)
	for _, ev := range l.EventsOf(webhook.ReceiveSMS) {
		b := ev.ReceiveSMS
		w, ok := want[b.Text]
		if !ok {
			t.Errorf("unexpected or altered text %q", b.Text)
			continue
		}
		delete(want, b.Text)
		if b.Origin != w.from || b.Destination != w.phone {
			t.Errorf("%q: origin %q destination %d, want %q %d", b.Text, b.Origin, b.Destination, w.from, w.phone)
		}
		if seenIDs[b.ID] {
			t.Errorf("event id %d used twice", b.ID)
		}
		seenIDs[b.ID] = true
		if b.Command || b.MMS || b.Medias == nil {
			t.Errorf("%q: command/mms/medias = %v/%v/%v", b.Text, b.Command, b.MMS, b.Medias)
		}
		if _, err := time.Parse(time.DateTime, b.At); err != nil {
			t.Errorf("at %q: %v", b.At, err)
		}
	}
	for text := range want {
		t.Errorf("never delivered: %q", text)
	}
	if got := l.Count(webhook.ReceiveSMS); got != n {
		t.Errorf("receiver accepted %d receive_sms, want exactly %d", got, n)
	}
	if d := l.Receiver.Stats().Duplicates; d != 0 {
		t.Errorf("%d duplicate deliveries", d)
	}
	for i, m := range l.Modems {
		if left := m.Stored("SM"); len(left) != 0 {
			t.Errorf("phone %d: %d messages left on the SIM after delivery", i+1, len(left))
		}
	}
}

// TestReceiveSurvivesRestartWithReceiverDown queues events while the
// receiver is down, restarts the agent, and checks every event still
// arrives once it is back.
func TestReceiveSurvivesRestartWithReceiverDown(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Options{})
	ctx := testContext(t, 60*time.Second)
	l.ReceiverDown()
	const n = 20
	for i := range n {
		if _, err := l.Modems[0].InjectSMS(modemsim.SMS{From: "+33600000001", Text: fmt.Sprintf("queued %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	// The messages leave the SIM only once committed to the outbox.
	deadline := time.Now().Add(20 * time.Second)
	for len(l.Modems[0].Stored("SM")) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages still on the SIM", len(l.Modems[0].Stored("SM")))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := l.StopAgent(); err != nil {
		t.Fatal(err)
	}
	if got := l.Count(webhook.ReceiveSMS); got != 0 {
		t.Fatalf("%d events reached a receiver that was down", got)
	}
	l.ReceiverUp()
	if err := l.StartAgent(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitEvents(ctx, webhook.ReceiveSMS, n); err != nil {
		t.Fatal(err)
	}
}

// concatPart encodes part seq of count of a concatenated SMS-DELIVER from
// +33612345678 with reference ref, whatever its numbers.
func concatPart(t *testing.T, ref, count, seq byte, text string) []byte {
	t.Helper()
	d, err := tpdu.NewDeliver()
	if err != nil {
		t.Fatal(err)
	}
	d.OA = tpdu.NewAddress(tpdu.FromNumber("+33612345678"))
	d.SCTS = tpdu.Timestamp{Time: time.Now().Truncate(time.Second)}
	d.SetUDH(tpdu.UserDataHeader{{ID: 0, Data: []byte{ref, count, seq}}})
	d.UD = []byte(text) // GSM 7-bit: ASCII letters and spaces are themselves
	b, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestConcatPartOutOfRangeIsKeptMalformed: a part "200 of 2" between the
// two genuine parts of a message is kept in the malformed store, never in
// a receive_sms, and the genuine parts arrive as one message.
func TestConcatPartOutOfRangeIsKeptMalformed(t *testing.T) {
	t.Parallel()
	l := startLab(t, lab.Options{})
	a := mustAgent(t, l)
	ctx := testContext(t, 60*time.Second)
	bogus := concatPart(t, 9, 2, 200, "bogus")
	for _, p := range [][]byte{concatPart(t, 9, 2, 1, "Hello "), bogus, concatPart(t, 9, 2, 2, "world")} {
		if _, err := l.Modems[0].InjectPDU(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.WaitEvents(ctx, webhook.ReceiveSMS, 1); err != nil {
		t.Fatal(err)
	}
	// The SIM empties once the message and the malformed part are kept
	// (polled: WaitFor looks again only when the receiver gets a request).
	for len(l.Modems[0].Stored("SM")) > 0 {
		if ctx.Err() != nil {
			t.Fatalf("slots left on the SIM: %v", l.Modems[0].Stored("SM"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a second message, if any, shows
	for _, ev := range l.EventsOf(webhook.ReceiveSMS) {
		if ev.ReceiveSMS.Text != "Hello world" {
			t.Errorf("receive_sms %q", ev.ReceiveSMS.Text)
		}
	}
	if n := l.Count(webhook.ReceiveSMS); n != 1 {
		t.Errorf("%d receive_sms, want 1", n)
	}
	kept, err := a.MalformedPDUs(10)
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 1 || !strings.HasSuffix(kept[0].PDU, hex.EncodeToString(bogus)) || kept[0].Phone != 1 {
		t.Errorf("malformed store %+v, want the part 200 of 2 (%x)", kept, bogus)
	}
}
