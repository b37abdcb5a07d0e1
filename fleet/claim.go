package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ClaimsBucket is the key-value bucket in which gateways claim send
// requests by their client-chosen id: the first gateway to claim an id
// holds the request, and any other that gets it (a redelivery after a
// crash between its commit and its ack, or a client's retry) leaves it.
const ClaimsBucket = "simhook_requests"

// claimMargin is how much longer than the send stream's max age a claim is
// kept: a request can be redelivered only while the stream holds it.
const claimMargin = time.Hour

// Claim records that this gateway holds send request id, unless a gateway
// claimed it first, and returns the gateway that holds it. Only the holder
// sends the request; the claim is kept as long as the send stream could
// deliver the request again. An error means the server could not be asked:
// the caller tries again later and sends nothing meanwhile.
func (n *Node) Claim(ctx context.Context, id string) (string, error) {
	if id == "" {
		return "", errors.New("fleet: claim: no request id")
	}
	l := n.current()
	if l == nil {
		return "", ErrClosed
	}
	if _, _, _, ok := l.state(); !ok {
		return "", fmt.Errorf("fleet: claim %s: %w", id, ErrNotConnected)
	}
	kv, err := n.claimsBucket(ctx, l)
	if err != nil {
		return "", fmt.Errorf("fleet: claim %s: %w", id, err)
	}
	gw := n.Gateway()
	key := claimKey(id)
	if _, err := kv.Create(ctx, key, []byte(gw)); err == nil {
		return gw, nil
	} else if !errors.Is(err, jetstream.ErrKeyExists) {
		if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, jetstream.ErrBucketNotFound) {
			n.forgetClaimsBucket(l)
		}
		return "", fmt.Errorf("fleet: claim %s: %w", id, err)
	}
	e, err := kv.Get(ctx, key)
	if err != nil {
		return "", fmt.Errorf("fleet: claim %s: reading the holder: %w", id, err)
	}
	return string(e.Value()), nil
}

// claimKey maps a request id, which may hold any character, onto a key the
// bucket accepts.
func claimKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// claimsBucket returns link l's claims bucket, creating it when missing.
func (n *Node) claimsBucket(ctx context.Context, l *link) (jetstream.KeyValue, error) {
	l.mu.Lock()
	kv := l.claims
	l.mu.Unlock()
	if kv != nil {
		return kv, nil
	}
	kv, err := l.js.KeyValue(ctx, ClaimsBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		cfg := n.config()
		kv, err = l.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      ClaimsBucket,
			Description: "simhook send requests, key hash of the request id, value the gateway holding it",
			History:     1,
			TTL:         cfg.Send.MaxAge + claimMargin,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Send.Replicas,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = l.js.KeyValue(ctx, ClaimsBucket)
		}
	}
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.claims = kv
	l.mu.Unlock()
	return kv, nil
}

// forgetClaimsBucket drops l's cached bucket, after the server lost it.
func (n *Node) forgetClaimsBucket(l *link) {
	l.mu.Lock()
	l.claims = nil
	l.mu.Unlock()
}
