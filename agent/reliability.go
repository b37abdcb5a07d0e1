package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/internal/clock"
	"github.com/simhook/simhook/outbox"
	"github.com/simhook/simhook/webhook"
)

// Buckets of the reliability checker.
// runReliability checks the phones' reliability at start-up and then every
// check_interval while sends finished within the rules' window could raise
// an alert. With none in the window it arms no timer; the next finished
// send arms it again, for a check one interval later.
func (a *Agent) runReliability(ctx context.Context) error {
	clk := clock.Or(a.opts.Clock)
	interval := func() time.Duration {
		if d := a.cfg.Load().Reliability.CheckInterval.Duration; d > 0 {
			return d
		}
		return 15 * time.Minute
	}
	next := clk.Now() // check at once
	for {
		if !next.IsZero() && !clk.Now().Before(next) {
			active, err := a.checkReliability(ctx)
			if err != nil {
				a.log.Error("reliability check", "err", err)
				active = true
			}
			next = time.Time{}
			if active {
				next = clk.Now().Add(interval())
			}
		}
		clock.WaitUntil(clk, next, a.reliabilityKick, ctx.Done())
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if next.IsZero() {
			next = clk.Now().Add(interval()) // a send finished while idle
		}
	}
}

// kickReliability tells the reliability loop a send finished.
func (a *Agent) kickReliability() {
	select {
	case a.reliabilityKick <- struct{}{}:
	default:
	}
}

// CheckReliability applies the reliability rules to every configured phone
// now, committing a phone_reliability event for each rule that fires and,
// with auto_disable, stopping sends through that phone.
func (a *Agent) CheckReliability(ctx context.Context) error {
	_, err := a.checkReliability(ctx)
	return err
}

// checkReliability is CheckReliability; it also reports whether any phone
// has finished sends in the window, so that a later check could alert.
func (a *Agent) checkReliability(ctx context.Context) (bool, error) {
	cfg := a.cfg.Load()
	now := a.now()
	samples, err := a.sentSamples(now.Add(-maxPeriod(cfg)))
	if err != nil {
		return true, err
	}
	for _, p := range cfg.Phones {
		for _, rc := range []struct {
			kind string
			th   config.Threshold
		}{{statusFailed, cfg.Reliability.Failed}, {statusUnknown, cfg.Reliability.Unknown}} {
			if !rc.th.Enabled {
				continue
			}
			rule := reliabilityRule{Kind: rc.kind, Rate: rc.th.Rate, MinVolume: rc.th.MinVolume, Period: rc.th.Period.Duration, Grace: rc.th.Grace.Duration}
			if err := a.applyRule(ctx, p.ID, rule, rc.th.AutoDisable, samples[p.ID], now); err != nil {
				return true, err
			}
		}
	}
	return len(samples) > 0, nil
}

// applyRule evaluates one rule for one phone and commits its alert.
func (a *Agent) applyRule(ctx context.Context, phone int, rule reliabilityRule, autoDisable bool, samples []sentSample, now time.Time) error {
	last, err := a.st.LastAlert(phone, rule.Kind)
	if err != nil {
		return err
	}
	v := rule.evaluate(samples, now, last)
	if !v.Alert {
		return nil
	}
	period := int(rule.Period / time.Minute)
	disable := ""
	if autoDisable {
		disable = "reliability: " + rule.Kind + " rate " + v.Rate()
	}
	_, err = a.out.Enqueue(ctx, outbox.Event{
		Type:      webhook.PhoneReliability,
		Phone:     phone,
		DedupeKey: fmt.Sprintf("reliability/%d/%s/%d", phone, rule.Kind, now.UnixNano()),
		Time:      now,
		Body: func(uint64) ([]byte, error) {
			return json.Marshal(webhook.PhoneReliabilityBody{
				ReliabilityType: rule.Kind,
				IDPhone:         phone,
				Period:          period,
				Total:           v.Total,
				Unreliable:      strconv.Itoa(v.Unreliable),
				Rate:            v.Rate(),
			})
		},
		Also: a.st.AlertHook(phone, rule.Kind, now, disable),
	})
	if err != nil {
		return fmt.Errorf("commit reliability alert: %w", err)
	}
	a.counter.add("reliability_alerts", 1)
	a.log.Warn("phone unreliable", "phone", phone, "kind", rule.Kind, "total", v.Total, "unreliable", v.Unreliable, "rate", v.Rate(), "disabled", autoDisable)
	return nil
}

// maxPeriod is the longest period of the enabled rules.
func maxPeriod(cfg *config.Config) time.Duration {
	return max(cfg.Reliability.Failed.Period.Duration, cfg.Reliability.Unknown.Period.Duration)
}

// sentSamples collects, per phone, the sends handed to the modem (or failed)
// since from, with their current status. It walks the send queue from the
// newest record back and stops at the first one created long before from.
func (a *Agent) sentSamples(from time.Time) (map[int][]sentSample, error) {
	out := make(map[int][]sentSample)
	sends, err := a.st.SentSince(from)
	for _, r := range sends {
		if r.UsedPhone == 0 || r.Status == "" {
			continue
		}
		out[r.UsedPhone] = append(out[r.UsedPhone], sentSample{At: r.SentAt, Status: r.Status})
	}
	for _, s := range out {
		sort.Slice(s, func(i, j int) bool { return s[i].At.Before(s[j].At) })
	}
	return out, err
}

// disabledPhones returns the ids of the phones sending is disabled on.
func (a *Agent) disabledPhones() map[int]bool {
	set, err := a.st.Disabled()
	if err != nil {
		a.log.Error("reading disabled phones", "err", err)
	}
	return set
}

// SetPhoneEnabled re-enables (or disables) sending through a phone. Its
// receiving never stops.
func (a *Agent) SetPhoneEnabled(ctx context.Context, phone int, enabled bool) error {
	if !a.hasPhone(phone) {
		return fmt.Errorf("%w %d", ErrUnknownPhone, phone)
	}
	reason := "disabled by the operator"
	if enabled {
		reason = ""
	}
	err := a.st.SetDisabled(ctx, phone, reason)
	if err == nil {
		a.log.Info("phone sending", "phone", phone, "enabled", enabled)
		a.sends.kick()
	}
	return err
}
