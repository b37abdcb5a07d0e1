package fleet

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/simhook/simhook/fleet/fleettest"
)

func TestPublish(t *testing.T) {
	t.Parallel()
	s := fleettest.Start(t)
	n := connectedNode(t, testConfig(s, "gw1"))
	js := admin(t, s.URL())
	header := http.Header{
		"Webhook-Id":           {"r1"},
		"Webhook-Signature":    {"v1,abc v1,def"},
		"Webhook-Timestamp":    {"1700000000"},
		"X-Multi":              {"a", "b"},
		"Nats-Expected-Stream": {"NOT_THIS_ONE"},
	}
	for _, tc := range []struct {
		eventType, id string
		wantMsgs      uint64
	}{
		{"receive_sms", "r1", 1},
		{"receive_sms", "r1", 1}, // a redelivery: absorbed
		{"send_sms", "r2", 2},
	} {
		if err := n.Publish(ctxT(t), tc.eventType, tc.id, []byte(`{"id":"`+tc.id+`"}`), header); err != nil {
			t.Fatalf("Publish %s %s: %v", tc.eventType, tc.id, err)
		}
		if got := streamInfo(t, js, "SIMHOOK_EVENTS").State.Msgs; got != tc.wantMsgs {
			t.Errorf("after %s %s the stream holds %d messages, want %d", tc.eventType, tc.id, got, tc.wantMsgs)
		}
	}
	stream, err := js.Stream(ctxT(t), "SIMHOOK_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	m, err := stream.GetMsg(ctxT(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "simhook.events.gw1.receive_sms" || string(m.Data) != `{"id":"r1"}` {
		t.Errorf("stored %s %s", m.Subject, m.Data)
	}
	for k, want := range map[string][]string{
		"Nats-Msg-Id":          {"r1"},
		"Webhook-Signature":    {"v1,abc v1,def"},
		"Webhook-Timestamp":    {"1700000000"},
		"X-Multi":              {"a", "b"},
		"Nats-Expected-Stream": nil,
	} {
		if got := m.Header.Values(k); !slices.Equal(got, want) {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}

	for _, bad := range []struct{ eventType, id string }{{"a.b", "r3"}, {"", "r3"}, {"x>", "r3"}, {"send_sms", ""}} {
		if err := n.Publish(ctxT(t), bad.eventType, bad.id, nil, nil); err == nil {
			t.Errorf("Publish(%q, %q) accepted", bad.eventType, bad.id)
		}
	}
}

// TestPublishServerDown kills the server: Publish fails at once with
// ErrNotConnected (not at its deadline), and works again once the server
// is back, on the same Node.
func TestPublishServerDown(t *testing.T) {
	t.Parallel()
	s := fleettest.Start(t)
	n := connectedNode(t, testConfig(s, "gw1"))
	if err := n.Publish(ctxT(t), "receive_sms", "r1", []byte("{}"), nil); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	waitFor(t, "node disconnected", func() bool { return !n.Connected() })
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	err := n.Publish(ctx, "receive_sms", "r2", []byte("{}"), nil)
	if !errors.Is(err, ErrNotConnected) || ctx.Err() != nil {
		t.Fatalf("Publish with the server down: %v (context: %v), want ErrNotConnected at once", err, ctx.Err())
	}
	s.Restart()
	waitFor(t, "publish after the restart", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return n.Publish(ctx, "receive_sms", "r2", []byte("{}"), nil) == nil
	})
	if got := streamInfo(t, admin(t, s.URL()), "SIMHOOK_EVENTS").State.Msgs; got != 2 {
		t.Errorf("the stream holds %d messages, want 2 (r1 survived the restart, r2 after it)", got)
	}
}

// TestPhones stores phones of two gateways and reads them back.
func TestPhones(t *testing.T) {
	t.Parallel()
	s := fleettest.Start(t)
	n1 := connectedNode(t, testConfig(s, "gw1"))
	n2 := connectedNode(t, testConfig(s, "gw2"))

	before := time.Now().Add(-time.Minute)
	if got, err := Phones(ctxT(t), Config{URLs: []string{s.URL()}}); err != nil || len(got) != 0 {
		t.Fatalf("Phones before any put: %v, %v", got, err)
	}
	for _, p := range []struct {
		n     *Node
		phone int
		value string
	}{
		{n2, 1, `{"state":"ready"}`},
		{n1, 2, `{"state":"down"}`},
		{n1, 1, `{"state":"old"}`},
		{n1, 1, `{"state":"ready"}`},
	} {
		if err := p.n.PutPhone(ctxT(t), p.phone, []byte(p.value)); err != nil {
			t.Fatalf("PutPhone %s %d: %v", p.n.Gateway(), p.phone, err)
		}
	}
	if err := n1.PutPhone(ctxT(t), -1, nil); err == nil {
		t.Error("PutPhone accepted phone -1")
	}
	got, err := Phones(ctxT(t), Config{URLs: []string{s.URL()}})
	if err != nil {
		t.Fatal(err)
	}
	want := []PhoneEntry{
		{Gateway: "gw1", Phone: 1, Value: []byte(`{"state":"ready"}`)},
		{Gateway: "gw1", Phone: 2, Value: []byte(`{"state":"down"}`)},
		{Gateway: "gw2", Phone: 1, Value: []byte(`{"state":"ready"}`)},
	}
	if len(got) != len(want) {
		t.Fatalf("Phones = %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Gateway != w.Gateway || g.Phone != w.Phone || string(g.Value) != string(w.Value) || g.Updated.Before(before) {
			t.Errorf("Phones[%d] = %s %d %s %v, want %s %d %s", i, g.Gateway, g.Phone, g.Value, g.Updated, w.Gateway, w.Phone, w.Value)
		}
	}
	if _, err := Phones(ctxT(t), Config{URLs: []string{"nats://127.0.0.1:1"}}); err == nil {
		t.Error("Phones with no server: no error")
	}
}

// TestPhonesExpire makes the bucket with a TTL of 1s: entries not refreshed
// go away.
func TestPhonesExpire(t *testing.T) {
	t.Parallel()
	s := fleettest.Start(t)
	cfg := testConfig(s, "gw1")
	cfg.PhonesTTL = time.Second
	n := connectedNode(t, cfg)
	if err := n.PutPhone(ctxT(t), 1, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	js := admin(t, s.URL())
	kv, err := js.KeyValue(ctxT(t), KVBucket)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := kv.Status(ctxT(t)); err != nil || st.TTL() != time.Second {
		t.Fatalf("bucket status %v, %v, want TTL 1s", st, err)
	}
	waitFor(t, "phone expired", func() bool {
		got, err := Phones(ctxT(t), Config{URLs: []string{s.URL()}})
		return err == nil && len(got) == 0
	})
}
