package fleet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Publish sends one event on simhook.events.<gateway>.<eventType> with
// header Nats-Msg-Id = randomID, so that JetStream drops a redelivery
// inside the stream's duplicate window, and with header's fields copied
// (fields named Nats-* excepted: those are JetStream's). It returns nil
// only once the server acknowledged the message; while not connected it
// fails at once, and otherwise within ctx (or 5s without a deadline).
func (n *Node) Publish(ctx context.Context, eventType, randomID string, body []byte, header http.Header) error {
	if err := validToken(eventType); err != nil {
		return fmt.Errorf("fleet: event type %q: %w", eventType, err)
	}
	if randomID == "" {
		return errors.New("fleet: publish: empty random id")
	}
	l := n.current()
	if l == nil {
		return ErrClosed
	}
	subject := EventSubject(n.Gateway(), eventType)
	if _, _, _, ok := l.state(); !ok {
		return fmt.Errorf("fleet: publish %s: %w", subject, ErrNotConnected)
	}
	msg := nats.NewMsg(subject)
	for k, vs := range header {
		if strings.HasPrefix(strings.ToLower(k), "nats-") {
			continue
		}
		for _, v := range vs {
			msg.Header.Add(k, v)
		}
	}
	msg.Header.Set(jetstream.MsgIDHeader, randomID)
	msg.Data = body
	if _, err := l.js.PublishMsg(ctx, msg); err != nil {
		if errors.Is(err, jetstream.ErrNoStreamResponse) {
			l.lost()
		}
		return fmt.Errorf("fleet: publish %s: %w", subject, err)
	}
	return nil
}

// PutPhone stores one phone's state (value, as the caller encodes it) under
// <gateway>.<phone> in the bucket simhook_phones. The caller refreshes it
// more often than the bucket's TTL; an entry not refreshed expires.
func (n *Node) PutPhone(ctx context.Context, phone int, value []byte) error {
	if phone < 0 {
		return fmt.Errorf("fleet: phone %d: negative id", phone)
	}
	l := n.current()
	if l == nil {
		return ErrClosed
	}
	key := n.Gateway() + "." + strconv.Itoa(phone)
	_, _, kv, ok := l.state()
	if !ok {
		return fmt.Errorf("fleet: put %s: %w", key, ErrNotConnected)
	}
	if _, err := kv.Put(ctx, key, value); err != nil {
		if errors.Is(err, jetstream.ErrNoStreamResponse) {
			l.lost()
		}
		return fmt.Errorf("fleet: put %s: %w", key, err)
	}
	return nil
}
