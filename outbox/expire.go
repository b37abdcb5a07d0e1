package outbox

import (
	"bytes"
	"context"
	"time"

	"go.etcd.io/bbolt"
)

// A disabled endpoint (410 Gone) is sent nothing until EnableEndpoint, but
// events keep queuing for it; its deliveries age by the rule every
// delivery ages by (see retryAge), so that its queue is bounded like any
// other. When one is due, the dispatcher looks at it instead of sending
// it: its age is brought up to date and, past the endpoint's MaxAge, it is
// dead (and goes with DeadRetention); otherwise it is due again when its
// budget runs out, or sooner (at most retryAfterCap×MaxInterval, the
// longest wait a sent delivery may be given, so that a clock jumping
// forward spends no more of the budget than it would of a sent one's).

// disabledView is a disabled endpoint as expireDisabled needs it.
type disabledView struct {
	name     string
	policy   RetryPolicy
	offTotal time.Duration
	stale    time.Time // due times after it are due now
}

// expireDisabled ages the due deliveries of the disabled endpoints, and
// returns when the next one is due (zero: none is pending). It returns
// whether it changed anything.
func (o *Outbox) expireDisabled(now time.Time) (next time.Time, changed bool, err error) {
	var views []disabledView
	o.mu.Lock()
	for name, st := range o.endpoints {
		if st.disabled {
			views = append(views, disabledView{name: name, policy: st.ep.Retry, offTotal: st.reach.totalAt(now), stale: now.Add(o.longestWait(st.ep.Retry))})
		}
	}
	o.mu.Unlock()
	if len(views) == 0 {
		return time.Time{}, false, nil
	}
	type due struct {
		view *disabledView
		at   time.Time
		seq  uint64
	}
	for {
		var batch []due
		next = time.Time{}
		_ = o.db.View(func(tx *bbolt.Tx) error {
			c := tx.Bucket(dueBucket).Cursor()
			for i := range views {
				v := &views[i]
				prefix := duePrefix(v.name)
				k, _ := c.Seek(prefix)
				for k != nil && bytes.HasPrefix(k, prefix) && len(batch) < pruneBatch {
					_, at, seq, ok := dueKeyParts(k)
					switch {
					case !ok:
					case at.After(now) && !at.After(v.stale):
						if next.IsZero() || at.Before(next) {
							next = at
						}
						k, _ = c.Seek(dueKey(v.name, v.stale.Add(time.Nanosecond), 0))
						continue
					default:
						batch = append(batch, due{view: v, at: at, seq: seq})
					}
					k, _ = c.Next()
				}
			}
			return nil
		})
		if len(batch) == 0 {
			return next, changed, nil
		}
		dead := map[string]int{}
		err = o.commit(context.Background(), func(tx *bbolt.Tx) error {
			clear(dead)
			for _, b := range batch {
				d, ok, err := getDelivery(tx, b.seq, b.view.name)
				if err != nil {
					return err
				}
				if !ok || d.State != StatePending || !bytes.Equal(dueKey(b.view.name, d.NextDue, b.seq), dueKey(b.view.name, b.at, b.seq)) {
					// Settled or moved meanwhile: the entry is stale.
					if err := tx.Bucket(dueBucket).Delete(dueKey(b.view.name, b.at, b.seq)); err != nil {
						return err
					}
					continue
				}
				if err := deletePending(tx, b.view.name, d.NextDue, b.seq); err != nil {
					return err
				}
				age := d.retryAge(now, b.view.offTotal)
				d.setAge(age, now, b.view.offTotal)
				if age >= b.view.policy.MaxAge {
					d.State, d.Done = StateDead, now
					d.LastError = "expired while the endpoint was disabled (410 Gone)"
					if err := putDead(tx, b.seq, b.view.name); err != nil {
						return err
					}
					if err := putDelivery(tx, b.seq, d); err != nil {
						return err
					}
					if err := fileFinished(tx, b.seq, now); err != nil {
						return err
					}
					dead[b.view.name]++
					continue
				}
				d.NextDue = now.Add(min(b.view.policy.MaxAge-age, retryAfterCap*b.view.policy.MaxInterval))
				if err := putPending(tx, b.view.name, d.NextDue, b.seq); err != nil {
					return err
				}
				if err := putDelivery(tx, b.seq, d); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return now.Add(time.Minute), changed, err // look again later
		}
		changed = true
		for name, n := range dead {
			o.metrics.add("outcome", name, OutcomeDead, uint64(n))
			o.opts.Logger.Error("webhooks to a disabled endpoint dead-lettered: older than its max_age", "endpoint", name, "deliveries", n)
		}
	}
}
