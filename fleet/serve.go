package fleet

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrRetry, wrapped in a handler's error, asks for the request again later
// (after Config.RetryDelay).
var ErrRetry = errors.New("fleet: try again later")

// Request is one send request taken from the stream.
type Request struct {
	// Subject is simhook.send or simhook.send.<gateway>.
	Subject string
	// Data is the request's body as published.
	Data []byte
	// Header holds the message's headers (nil when it had none).
	Header http.Header
	// Delivered counts the deliveries of this request, this one included:
	// more than 1 means another gateway, or this one, took it before and
	// did not acknowledge it.
	Delivered uint64
	// Seq is the request's sequence in the stream. It is the same on
	// every delivery, so a handler can recognise a request it committed
	// whose ack was lost.
	Seq uint64
}

// Serve takes send requests and hands each to h, until ctx ends (it then
// returns nil) or the Node is closed (ErrClosed). It takes requests only
// while capacity() > 0, and at most capacity() at a time, those for this
// gateway first; it looks again after taking some, when wake fires, when
// the connection comes up and at least every few seconds.
//
// h's answer decides the request's fate: nil acknowledges it (Serve waits
// for the server to confirm the ack), an error wrapping ErrRetry returns it
// to the stream for later, and any other error drops it for good (it is
// logged with the reason). h should return nil only once the request is
// committed where it survives a crash; a request whose handler does not
// return before the consumer's AckWait, or whose gateway dies, goes to
// another gateway.
func (n *Node) Serve(ctx context.Context, capacity func() int, wake <-chan struct{}, h func(context.Context, Request) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-n.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	t := time.NewTicker(n.tm.pollEvery)
	defer t.Stop()
	for {
		changed := n.changes()
		took, waited := n.serveOnce(ctx, capacity, h)
		select {
		case <-n.done:
			return ErrClosed
		default:
		}
		if ctx.Err() != nil {
			return nil
		}
		if took > 0 || waited {
			// Taken some, or already waited on the server: look again.
			continue
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-t.C:
		case <-changed:
		}
	}
}

// serveOnce fetches what capacity allows from the gateway's consumer, then
// from the shared one, and hands it to h. It returns how many requests it
// took, and whether it waited on the server for them (an idle pull that
// ended normally), in which case the caller need not wait again.
func (n *Node) serveOnce(ctx context.Context, capacity func() int, h func(context.Context, Request) error) (took int, waited bool) {
	l := n.current()
	if l == nil {
		return 0, false
	}
	own, any, _, ok := l.state()
	if !ok {
		return 0, false
	}
	for i, c := range []jetstream.Consumer{own, any} {
		free := capacity()
		if free <= 0 || ctx.Err() != nil {
			break
		}
		var batch jetstream.MessageBatch
		var err error
		if i == 1 && took == 0 {
			// Idle: wait a little on the server for a request, so a new
			// one is taken at once rather than at the next look. One
			// only: a pull for more would hold the ones it got until the
			// rest came or the wait ended (other gateways take from the
			// same consumer), while the loop takes the rest without
			// waiting as soon as this one is handled.
			fctx, fcancel := context.WithTimeout(ctx, n.tm.idleWait)
			batch, err = c.Fetch(1, jetstream.FetchContext(fctx))
			got, ok := n.handleBatch(ctx, batch, err, l, h)
			fcancel()
			took += got
			waited = ok && ctx.Err() == nil
			continue
		}
		batch, err = c.FetchNoWait(free)
		got, _ := n.handleBatch(ctx, batch, err, l, h)
		took += got
		if i == 0 && got == free {
			// The gateway's own subject may hold more: look there
			// again before the shared one.
			break
		}
	}
	return took, waited
}

// handleBatch hands a fetch's requests to h. It returns how many there
// were and whether the fetch ended normally (at its batch size or expiry).
func (n *Node) handleBatch(ctx context.Context, batch jetstream.MessageBatch, err error, l *link, h func(context.Context, Request) error) (int, bool) {
	if err != nil {
		n.fetchFailed(err, l)
		return 0, false
	}
	took := 0
	for msg := range batch.Messages() {
		took++
		n.handle(ctx, msg, h)
	}
	err = batch.Error()
	if err != nil {
		n.fetchFailed(err, l)
	}
	return took, err == nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)
}

func (n *Node) fetchFailed(err error, l *link) {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, jetstream.ErrNoMessages):
	case errors.Is(err, jetstream.ErrConsumerNotFound), errors.Is(err, jetstream.ErrConsumerDeleted),
		errors.Is(err, jetstream.ErrStreamNotFound):
		n.log.Warn("fleet: consumer lost; setting it up again", "err", err)
		l.lost()
	default:
		n.log.Debug("fleet: fetch", "err", err)
	}
}

// handle hands one request to h and acknowledges it as h says.
func (n *Node) handle(ctx context.Context, msg jetstream.Msg, h func(context.Context, Request) error) {
	req := Request{Subject: msg.Subject(), Data: msg.Data()}
	if len(msg.Headers()) > 0 {
		req.Header = http.Header(msg.Headers())
	}
	if md, err := msg.Metadata(); err == nil {
		req.Delivered, req.Seq = md.NumDelivered, md.Sequence.Stream
	}
	err := h(ctx, req)
	switch {
	case err == nil:
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.tm.ackTimeout)
		defer cancel()
		if err := msg.DoubleAck(actx); err != nil {
			n.log.Warn("fleet: ack not confirmed; the request may come again", "subject", req.Subject, "seq", req.Seq, "err", err)
		}
	case errors.Is(err, ErrRetry):
		if err := msg.NakWithDelay(n.config().RetryDelay); err != nil {
			n.log.Warn("fleet: nak", "subject", req.Subject, "seq", req.Seq, "err", err)
		}
	case ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		// Stopping: give the request back for another gateway at once.
		_ = msg.Nak()
	default:
		n.log.Warn("fleet: request dropped", "subject", req.Subject, "seq", req.Seq, "reason", err)
		if err := msg.Term(); err != nil {
			n.log.Warn("fleet: term", "subject", req.Subject, "seq", req.Seq, "err", err)
		}
	}
}
