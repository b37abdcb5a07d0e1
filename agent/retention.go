package agent

import (
	"context"
	"time"

	"github.com/simhook/simhook/internal/clock"
	"github.com/simhook/simhook/store"
)

// pruneRetry is how long the retention loop waits after a failed prune.
const pruneRetry = time.Minute

// retention is what the store keeps, from the configuration in force.
func (a *Agent) retention() store.Retention {
	return store.Retention{
		Sends:          a.cfg.Load().Delivery.Retention.Duration,
		MalformedAge:   store.DefaultMalformedAge,
		MalformedCount: store.DefaultMalformedCount,
		Reports:        store.DefaultReportAge,
	}
}

// runRetention prunes the agent's state as records fall due: finished sends
// after delivery.retention, malformed PDUs over their cap, unmatched
// delivery reports after 48 hours. It sleeps until the next record is due,
// with no timer when none is, and looks again when kicked.
func (a *Agent) runRetention(ctx context.Context) error {
	clk := clock.Or(a.opts.Clock)
	for {
		p, next, err := a.st.Prune(ctx, clk.Now(), a.retention())
		if err != nil {
			a.log.Error("pruning the agent's state", "err", err)
			next = clk.Now().Add(pruneRetry)
		}
		if p != (store.Pruned{}) {
			a.counter.add("pruned_sends", uint64(p.Sends))
			a.counter.add("pruned_malformed", uint64(p.Malformed))
			a.counter.add("pruned_reports", uint64(p.Reports))
			a.log.Info("pruned the agent's state", "sends", p.Sends, "malformed_pdus", p.Malformed, "reports", p.Reports, "hand_overs", p.Usage)
		}
		clock.WaitUntil(clk, next, a.pruneKick, ctx.Done())
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// kickPrune makes the retention loop look again now.
func (a *Agent) kickPrune() {
	select {
	case a.pruneKick <- struct{}{}:
	default:
	}
}
