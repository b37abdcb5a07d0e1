package outbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/simhook/simhook/webhook"
	"go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// clockRefresh is how long an answer of the clock guard is reused.
const clockRefresh = 250 * time.Millisecond

// clockCache remembers the clock guard's last answer, so that enqueues and
// the dispatcher's turns do not each ask the sources, and so that an
// unknown state is logged once per episode rather than every turn.
type clockCache struct {
	mu    sync.Mutex
	read  time.Time // monotonic, when state was read
	state ClockState
	valid bool
}

// clockState returns the clock guard's answer, refreshed at most every
// clockRefresh. A change is logged; entering the unknown state is counted.
func (o *Outbox) clockState() ClockState {
	c := &o.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.valid && time.Since(c.read) < clockRefresh {
		return c.state
	}
	st := o.opts.ClockState()
	prev, had := c.state, c.valid
	c.state, c.read, c.valid = st, time.Now(), true
	if had && prev.Known == st.Known && prev.Synced == st.Synced {
		return st
	}
	switch {
	case !st.Known:
		o.metrics.add("clock_unknown", "", "", 1)
		o.opts.Logger.Error("cannot tell whether the system clock is synchronised; treating it as not synchronised", "source", st.Source)
	case !st.Synced:
		o.opts.Logger.Warn("the system clock is not synchronised", "source", st.Source)
	case had:
		o.opts.Logger.Info("the system clock is synchronised", "source", st.Source)
	}
	return st
}

// holding reports whether sending waits for the clock, and the clock's state.
func (o *Outbox) holding() (bool, ClockState) {
	st := o.clockState()
	return o.settings().RequireTimeSync && !(st.Known && st.Synced), st
}

// processBoot stands in for the boot id where /proc/sys is hidden (the
// unit's ProcSubset=pid): an id of this process, so that re-basing by
// CLOCK_BOOTTIME is exact while the agent runs, and an event from before a
// restart is stamped at its first send instead.
var processBoot = func() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("process-%d-%x", os.Getpid(), b)
}()

// systemBootClock reads this boot's id and CLOCK_BOOTTIME, which counts
// through suspend and is not moved by setting the wall clock.
func systemBootClock() (string, time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return "", 0, fmt.Errorf("CLOCK_BOOTTIME: %w", err)
	}
	boot := processBoot
	if id, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		boot = string(bytes.TrimSpace(id))
	}
	return boot, time.Duration(ts.Nano()), nil
}

// stampUnsynced marks a record made while the clock was not known to be
// synchronised, with where in this boot its time was taken, so that it can
// be re-based once the clock is right.
func (o *Outbox) stampUnsynced(rec *eventRecord, now time.Time) {
	rec.Unsynced = true
	boot, since, err := o.opts.BootClock()
	if err != nil {
		return // re-based to its first send instead
	}
	rec.Boot = boot
	rec.SinceBoot = since - max(0, now.Sub(rec.Time))
}

// rebased returns the event's record with its time re-based, if it was
// made before the clock synchronised and the clock now is, storing the new
// time so every retry and every endpoint signs the same one. The new time
// is the wall clock now minus the time elapsed since the event (measured on
// CLOCK_BOOTTIME) when the event is of this boot, else now. Body fields the
// agent stamped from its own clock (Event.LocalTimes) move by the same
// amount, and each delivery's random id, whose prefix is the event's time,
// is drawn again: no request has carried it yet. An event any endpoint has
// already been sent (require_time_sync off) keeps its time and ids, so a
// receiver never sees one event under two ids.
func (o *Outbox) rebased(seq uint64, rec eventRecord) eventRecord {
	if !rec.Unsynced {
		return rec
	}
	if st := o.clockState(); !st.Known || !st.Synced {
		return rec
	}
	out, did := rec, false
	err := o.commit(context.Background(), func(tx *bbolt.Tx) error {
		did = false
		e, ok, err := getEvent(tx, seq)
		if err != nil || !ok {
			return err
		}
		if !e.Unsynced {
			out = e
			return nil
		}
		var deliveries []deliveryRecord
		sent := false
		c := tx.Bucket(deliveriesBucket).Cursor()
		prefix := u64(seq)
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var d deliveryRecord
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			if d.State != StatePending || d.Attempts > 0 || !d.LastAttempt.IsZero() {
				sent = true
			}
			deliveries = append(deliveries, d)
		}
		at := e.Time
		if !sent {
			now := o.opts.Clock.Now()
			at = now
			if boot, since, err := o.opts.BootClock(); err == nil && e.Boot != "" && boot == e.Boot && since >= e.SinceBoot {
				at = now.Add(-(since - e.SinceBoot))
			}
			for _, d := range deliveries {
				id, err := webhook.NewRandomID(at.Unix())
				if err != nil {
					return err
				}
				d.RandomID = id
				if err := putDelivery(tx, seq, d); err != nil {
					return err
				}
			}
			e.Body = shiftBodyDates(e.Body, e.LocalTimes, at.Sub(e.Time))
		}
		e.Time, e.Unsynced, e.Boot, e.SinceBoot = at, false, "", 0
		v, err := json.Marshal(e)
		if err != nil {
			return err
		}
		out, did = e, !sent
		return tx.Bucket(eventsBucket).Put(u64(seq), v)
	})
	if err != nil {
		o.opts.Logger.Error("re-basing an event's time after the clock synchronised; it goes out with its first time", "seq", seq, "err", err)
		return rec
	}
	if did {
		o.metrics.add("clock_rebased", "", "", 1)
	}
	return out
}

// shiftBodyDates moves the named top-level date fields of a JSON body by
// delta. A field that is absent, null or not a date is left as it is.
// The dates are in the agent's timezone without an offset; they are moved
// as wall-clock readings, which is exact except across a DST change.
func shiftBodyDates(body json.RawMessage, fields []string, delta time.Duration) json.RawMessage {
	if len(fields) == 0 || delta == 0 {
		return body
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return body
	}
	changed := false
	for _, f := range fields {
		var s string
		if err := json.Unmarshal(m[f], &s); err != nil {
			continue
		}
		t, err := time.Parse(webhook.DateLayout, s)
		if err != nil {
			continue
		}
		v, _ := json.Marshal(t.Add(delta).Format(webhook.DateLayout))
		m[f] = v
		changed = true
	}
	if !changed {
		return body
	}
	out, err := marshalOrdered(body, m)
	if err != nil {
		return body
	}
	return out
}

// marshalOrdered writes the object m with its keys in the order they have
// in orig, so that a re-based body differs from the first only in its dates.
func marshalOrdered(orig json.RawMessage, m map[string]json.RawMessage) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(orig))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("object key %v", tok)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(m[key])
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
