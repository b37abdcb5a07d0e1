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
	// Retention is how long delivered events and dedupe keys are kept.
	Retention time.Duration
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
	if d.ProbeMax <= 0 {
		d.ProbeMax = 30 * time.Second
	}
	return d
}

// SetDelivery puts new delivery settings in force at once: the dispatcher
// reads them on its next turn (it is kicked), so lowering require_time_sync
// releases held webhooks, a new concurrency applies to the next picks and a
// new probe cap to the next probes scheduled.
func (o *Outbox) SetDelivery(d Delivery) {
	d = d.withDefaults()
	o.delivery.Store(&d)
	o.Kick()
}

// Delivery returns the delivery settings in force.
func (o *Outbox) Delivery() Delivery { return o.settings() }

// settings returns the delivery settings in force.
func (o *Outbox) settings() Delivery { return *o.delivery.Load() }
