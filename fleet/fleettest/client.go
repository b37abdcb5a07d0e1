package fleettest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/simhook/simhook/webhook"
)

// Client is a fleet's client in tests: it publishes send requests and
// reads the events stream, as an operator's servers would.
type Client struct {
	NC *nats.Conn
	JS jetstream.JetStream
}

// NewClient connects to url, reconnecting without end; it is closed when
// the test ends.
func NewClient(t testing.TB, url string) *Client {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond), nats.RetryOnFailedConnect(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return &Client{NC: nc, JS: js}
}

// WaitStream waits until a gateway created stream name.
func (c *Client) WaitStream(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	for {
		if _, err := c.JS.Stream(ctx, name); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("stream %s never appeared: %v", name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Request is a send request as clients publish it; its id is also its
// tag, so that its send_sms can be found.
type Request struct {
	ID   string `json:"id"`
	To   string `json:"to"`
	Text string `json:"text"`
	Tag  string `json:"tag"`
}

// RequestID is the id of test request i.
func RequestID(i int) string { return fmt.Sprintf("req-%04d", i) }

// RequestText is the text of test request i.
func RequestText(i int) string { return "fleet request " + RequestID(i) }

// Publish publishes requests from..to-1 to subject, retrying each while
// the server is away (the publication's own id makes a retry harmless).
func (c *Client) Publish(t testing.TB, ctx context.Context, subject string, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		data, _ := json.Marshal(Request{ID: RequestID(i), To: fmt.Sprintf("+336%08d", i), Text: RequestText(i), Tag: RequestID(i)})
		for {
			_, err := c.JS.Publish(ctx, subject, data, jetstream.WithMsgID("pub-"+RequestID(i)))
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("publishing %s: %v", RequestID(i), err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// Events reads the events stream's messages on subject filter (such as
// "simhook.events.*.send_sms") from the start until key, applied to each
// event's body, has given want distinct values, and returns how often each
// value came. Every event must carry a valid signature under secret and a
// Nats-Msg-Id equal to its webhook_random_id.
func (c *Client) Events(t testing.TB, ctx context.Context, stream, filter, secret string, want int, key func(body json.RawMessage) string) map[string]int {
	t.Helper()
	cons, err := c.JS.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for len(counts) < want {
		if ctx.Err() != nil {
			t.Fatalf("%d of %d events on %s: %v", len(counts), want, filter, ctx.Err())
		}
		batch, err := cons.Fetch(100, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			continue
		}
		for m := range batch.Messages() {
			h := http.Header{}
			for k, v := range m.Headers() {
				h[http.CanonicalHeaderKey(k)] = v
			}
			if err := webhook.VerifyStandard([]string{secret}, h, m.Data(), time.Now(), time.Hour); err != nil {
				t.Errorf("event on %s: %v", m.Subject(), err)
			}
			var ev struct {
				RandomID string          `json:"webhook_random_id"`
				Body     json.RawMessage `json:"body"`
			}
			if err := json.Unmarshal(m.Data(), &ev); err != nil {
				t.Fatalf("event on %s: %s", m.Subject(), m.Data())
			}
			if got := m.Headers().Get(jetstream.MsgIDHeader); got != ev.RandomID {
				t.Errorf("event on %s: Nats-Msg-Id %q, webhook_random_id %q", m.Subject(), got, ev.RandomID)
			}
			counts[key(ev.Body)]++
		}
	}
	return counts
}

// SendTag is a key for Events: a send_sms body's tag.
func SendTag(body json.RawMessage) string {
	var b webhook.SendSMSBody
	_ = json.Unmarshal(body, &b)
	return b.Tag
}

// ReceivedText is a key for Events: a receive_sms body's text.
func ReceivedText(body json.RawMessage) string {
	var b webhook.ReceiveSMSBody
	_ = json.Unmarshal(body, &b)
	return b.Text
}
