package fleet

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// PhoneEntry is one phone's state in the bucket.
type PhoneEntry struct {
	Gateway string
	Phone   int
	Value   []byte
	Updated time.Time
}

// Phones reads the whole fleet's phones: it connects with cfg (Gateway may
// be empty), reads every key of the bucket simhook_phones and closes. A
// missing bucket is an empty fleet. Entries come sorted by gateway and
// phone; keys not of the form <gateway>.<phone id> are skipped.
func Phones(ctx context.Context, cfg Config) ([]PhoneEntry, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(false); err != nil {
		return nil, err
	}
	cs, err := loadConn(cfg)
	if err != nil {
		return nil, err
	}
	opts := cs.options()
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d > 0 {
			opts = append(opts, nats.Timeout(d))
		}
	}
	opts = append(opts, nats.Name("simhook fleet ls"), nats.NoReconnect())
	nc, err := nats.Connect(strings.Join(cfg.URLs, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("fleet: connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("fleet: jetstream: %w", err)
	}
	kv, err := js.KeyValue(ctx, KVBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fleet: bucket %s: %w", KVBucket, err)
	}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("fleet: bucket %s: %w", KVBucket, err)
	}
	defer func() { _ = w.Stop() }()
	var out []PhoneEntry
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("fleet: bucket %s: %w", KVBucket, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("fleet: bucket %s: watch ended early", KVBucket)
			}
			if e == nil {
				slices.SortFunc(out, func(a, b PhoneEntry) int {
					return cmp.Or(cmp.Compare(a.Gateway, b.Gateway), cmp.Compare(a.Phone, b.Phone))
				})
				return out, nil
			}
			gw, id, found := strings.Cut(e.Key(), ".")
			phone, err := strconv.Atoi(id)
			if !found || err != nil || phone < 0 || ValidGateway(gw) != nil {
				continue
			}
			out = append(out, PhoneEntry{Gateway: gw, Phone: phone, Value: e.Value(), Updated: e.Created()})
		}
	}
}
