package outbox

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"time"

	"github.com/simhook/simhook/webhook"
	"go.etcd.io/bbolt"
)

// Buckets of the outbox's part of the file.
var (
	eventsBucket     = []byte("outbox/events")     // seq → eventRecord
	deliveriesBucket = []byte("outbox/deliveries") // seq + endpoint → deliveryRecord
	dueBucket        = []byte("outbox/due")        // endpoint 0x00 due seq → nil, pending only
	pendingBucket    = []byte("outbox/pending")    // endpoint 0x00 seq → nil, pending only, oldest first
	dedupeBucket     = []byte("outbox/dedupe")     // key → seq, id, time
	dedupeAgeBucket  = []byte("outbox/dedupe-age") // time key → nil, to prune keys oldest first
	idsBucket        = []byte("outbox/ids")        // one sub-bucket per type, for its id sequence
	metaBucket       = []byte("outbox/meta")       // settings that survive restarts
	deadBucket       = []byte("outbox/dead")       // seq + endpoint → nil, dead deliveries
	// Finished events (no delivery pending), by the time the last one
	// settled: those without a dead delivery in doneBucket, the others in
	// deadDoneBucket. Retention walks them from the oldest and stops at
	// the first one not due (see finish.go).
	doneBucket     = []byte("outbox/done")      // finish time + seq → nil
	deadDoneBucket = []byte("outbox/dead-done") // finish time + seq → nil
)

// Delivery states.
const (
	StatePending   = "pending"
	StateDelivered = "delivered"
	StateDead      = "dead"
	// StateDisabled is how a pending delivery to an endpoint disabled by a
	// 410 is reported; it is stored as pending.
	StateDisabled = "disabled-endpoint"
)

// eventRecord is one event as stored.
type eventRecord struct {
	Seq       uint64          `json:"seq"`
	Type      webhook.Type    `json:"type"`
	ID        uint64          `json:"id"`
	Phone     int             `json:"phone,omitempty"`
	Time      time.Time       `json:"time"`
	DedupeKey string          `json:"dedupe,omitempty"`
	Body      json.RawMessage `json:"body"`
	// Unsynced marks an event made while the clock was not known to be
	// synchronised; Boot and SinceBoot say where in which boot its Time
	// was taken, and LocalTimes which body fields came from the same
	// clock. See Outbox.rebased.
	Unsynced   bool          `json:"unsynced,omitempty"`
	Boot       string        `json:"boot,omitempty"`
	SinceBoot  time.Duration `json:"since_boot,omitempty"`
	LocalTimes []string      `json:"local_times,omitempty"`
}

// deliveryRecord is one event's delivery to one endpoint.
type deliveryRecord struct {
	Endpoint     string    `json:"endpoint"`
	RandomID     string    `json:"random_id"`
	State        string    `json:"state"`
	Attempts     int       `json:"attempts"`
	ClientErrors int       `json:"client_errors,omitempty"`
	NextDue      time.Time `json:"next_due"`
	LastError    string    `json:"last_error,omitempty"`
	LastStatus   int       `json:"last_status,omitempty"`
	LastAttempt  time.Time `json:"last_attempt,omitzero"`
	Created      time.Time `json:"created"`
	// OfflineAtCreate is the outbox's total offline time when the event was
	// made; the difference with the current total is not counted in its age.
	OfflineAtCreate time.Duration `json:"offline_at_create"`
	Done            time.Time     `json:"done,omitzero"`
	// Age is how much of the retry budget (MaxAge) the delivery has spent
	// up to AgedAt, when the outbox's total offline time was OfflineAtAged.
	// A record stored before these fields existed has them zero and ages
	// from Created. See retryAge.
	Age           time.Duration `json:"age,omitempty"`
	AgedAt        time.Time     `json:"aged_at,omitzero"`
	OfflineAtAged time.Duration `json:"offline_at_aged,omitempty"`
}

// ageSlack is how much later than scheduled an attempt may come and still
// have the whole wait counted in its delivery's age.
const ageSlack = time.Minute

// retryAge returns the delivery's age at now, when the total offline time
// is offTotal. The age is not now minus Created: a Raspberry Pi has no
// real-time clock and may stamp a record days (or decades) behind, then
// jump forward when NTP syncs, and a clock set ahead may later jump back.
// So the age grows, between two attempts, by the online time between them,
// but never by more than the wait that was scheduled (NextDue) plus
// ageSlack, and never by a negative amount. A jump can thus spend at most
// ageSlack of the budget; time the dispatcher could not send (the clock
// unsynchronised, the agent stopped, a busy backlog) is not counted either,
// which errs on the side of keeping the event.
func (d *deliveryRecord) retryAge(now time.Time, offTotal time.Duration) time.Duration {
	from, offFrom := d.AgedAt, d.OfflineAtAged
	if from.IsZero() {
		from, offFrom = d.Created, d.OfflineAtCreate
	}
	gap := now.Sub(from) - (offTotal - offFrom)
	gap = min(gap, max(d.NextDue.Sub(from), 0)+ageSlack)
	return d.Age + max(gap, 0)
}

// setAge records the delivery's age at now.
func (d *deliveryRecord) setAge(age time.Duration, now time.Time, offTotal time.Duration) {
	d.Age, d.AgedAt, d.OfflineAtAged = age, now, offTotal
}

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// deliveryKey is seq followed by the endpoint name.
func deliveryKey(seq uint64, endpoint string) []byte {
	return append(u64(seq), endpoint...)
}

// dueKey orders an endpoint's pending deliveries by due time, then age.
func dueKey(endpoint string, due time.Time, seq uint64) []byte {
	k := append([]byte(endpoint), 0)
	k = binary.BigEndian.AppendUint64(k, uint64(max(due.UnixNano(), 0)))
	return binary.BigEndian.AppendUint64(k, seq)
}

// dueKeyParts splits a due key.
func dueKeyParts(k []byte) (endpoint string, due time.Time, seq uint64, ok bool) {
	i := bytes.IndexByte(k, 0)
	if i < 0 || len(k) != i+17 {
		return "", time.Time{}, 0, false
	}
	return string(k[:i]), time.Unix(0, int64(binary.BigEndian.Uint64(k[i+1:]))), binary.BigEndian.Uint64(k[i+9:]), true
}

// duePrefix is the start of an endpoint's due keys.
func duePrefix(endpoint string) []byte { return append([]byte(endpoint), 0) }

// pendingKey orders an endpoint's pending deliveries by age.
func pendingKey(endpoint string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(endpoint), 0), seq)
}

// pendingKeySeq reads the sequence number of a pending key.
func pendingKeySeq(k []byte) (uint64, bool) {
	if len(k) < 9 || k[len(k)-9] != 0 {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[len(k)-8:]), true
}

// putPending indexes a pending delivery by due time and by age.
func putPending(tx *bbolt.Tx, endpoint string, due time.Time, seq uint64) error {
	if err := tx.Bucket(dueBucket).Put(dueKey(endpoint, due, seq), nil); err != nil {
		return err
	}
	if err := tx.Bucket(pendingBucket).Put(pendingKey(endpoint, seq), nil); err != nil {
		return err
	}
	return addCount(tx, "pending/"+endpoint, 1)
}

// deletePending removes a delivery from both indexes.
func deletePending(tx *bbolt.Tx, endpoint string, due time.Time, seq uint64) error {
	if err := tx.Bucket(dueBucket).Delete(dueKey(endpoint, due, seq)); err != nil {
		return err
	}
	if err := tx.Bucket(pendingBucket).Delete(pendingKey(endpoint, seq)); err != nil {
		return err
	}
	return addCount(tx, "pending/"+endpoint, -1)
}
