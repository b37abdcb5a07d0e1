package agent

import (
	"fmt"
	"time"
)

// sentSample is one SMS a phone was asked to send, as the reliability rule
// sees it: when it was handed to the modem and its current status.
type sentSample struct {
	At     time.Time
	Status string // "unknown", "delivered" or "failed"
}

// reliabilityRule is RaspiSMS's phone-reliability rule for one kind of
// unreliable send ("failed" or "unknown").
type reliabilityRule struct {
	Kind      string
	Rate      float64
	MinVolume int
	Period    time.Duration
	Grace     time.Duration
}

// verdict is the outcome of one evaluation of a reliabilityRule.
type verdict struct {
	Total      int
	Unreliable int
	Alert      bool
}

// Rate renders the unreliable share as RaspiSMS does: a string with four
// decimals.
func (v verdict) Rate() string {
	if v.Total == 0 {
		return "0.0000"
	}
	return fmt.Sprintf("%.4f", float64(v.Unreliable)/float64(v.Total))
}

// rateEpsilon absorbs float rounding so that a share exactly equal to the
// configured rate (6 of 30 against 0.2) counts as reaching it.
const rateEpsilon = 1e-9

// evaluate applies the rule at now. It counts the samples sent between
// now-Period and now-Grace (both inclusive), ignoring any sent at or before
// lastAlert so that every alert needs fresh volume, and alerts when the total
// reaches MinVolume and the unreliable share reaches Rate.
func (r reliabilityRule) evaluate(samples []sentSample, now, lastAlert time.Time) verdict {
	from, to := now.Add(-r.Period), now.Add(-r.Grace)
	var v verdict
	for _, s := range samples {
		if s.At.Before(from) || s.At.After(to) {
			continue
		}
		if !lastAlert.IsZero() && !s.At.After(lastAlert) {
			continue
		}
		v.Total++
		if s.Status == r.Kind {
			v.Unreliable++
		}
	}
	v.Alert = v.Total > 0 && v.Total >= r.MinVolume &&
		float64(v.Unreliable)/float64(v.Total) >= r.Rate-rateEpsilon
	return v
}
