package outbox

import "time"

// Delivery is the part of the options a configuration reload may change
// while the outbox runs (the `delivery:` section of the configuration).
type Delivery struct {
	// Concurrency bounds the requests in flight across endpoints.
	Concurrency int
	// RequireTimeSync holds sending while the clock guard does not know the
	// clock is synchronised.
	RequireTimeSync bool
	// Retention is how long an event is kept after its last delivery
	// settled, and a dedupe key after its event is gone.
	Retention time.Duration
	// DeadRetention is how long an event with a dead delivery is kept after
	// its last delivery settled (if longer than Retention).
	DeadRetention time.Duration
	// ProbeMax caps the backoff of the probes of an unreachable endpoint
	// (from about a second, doubling), and is the interval of the probes of
	// an endpoint that answers with errors.
	ProbeMax time.Duration
}

// withDefaults fills what is unset, as Options does.
func (d Delivery) withDefaults() Delivery {
	if d.Concurrency <= 0 {
		d.Concurrency = 4
	}
	if d.Retention <= 0 {
		d.Retention = 168 * time.Hour
	}
	if d.DeadRetention <= 0 {
		d.DeadRetention = 720 * time.Hour
	}
	if d.ProbeMax <= 0 {
		d.ProbeMax = 30 * time.Second
	}
	return d
}

// SetDelivery puts new delivery settings in force at once: the dispatcher
// reads them on its next turn (it is kicked), so lowering require_time_sync
// releases held webhooks, a new concurrency applies to the next picks, a
// new probe cap to the next probes scheduled, and new retentions to the
// next pruning (the dispatcher looks again when it is due).
func (o *Outbox) SetDelivery(d Delivery) {
	d = d.withDefaults()
	o.delivery.Store(&d)
	o.Kick()
}

// Delivery returns the delivery settings in force.
func (o *Outbox) Delivery() Delivery { return o.settings() }

// settings returns the delivery settings in force.
func (o *Outbox) settings() Delivery { return *o.delivery.Load() }
