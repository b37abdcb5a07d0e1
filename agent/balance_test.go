package agent

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/modem"
)

// TestBalanceValue covers reading a balance out of an answer.
func TestBalanceValue(t *testing.T) {
	tests := []struct {
		text, pattern string
		want          float64
		err           bool
	}{
		{"Your balance is 12.50 EUR", "", 12.5, false},
		{"Solde : 7,25 EUR, valable jusqu'au 31/12", "([0-9]+[.,][0-9]+)", 7.25, false},
		{"Balance 1,234.56 USD", `Balance ([0-9,]+\.[0-9]+)`, 1234.56, false},
		{"Остаток 42 руб.", "", 42, false},
		{"Bonus 3.00, main 19.90 EUR", `main ([0-9.]+)`, 19.9, false},
		{"Service unavailable", "", 0, true},
		{"Balance: n/a", `Balance: ([0-9]+)`, 0, true},
	}
	for _, tt := range tests {
		got, err := balanceValue(tt.text, tt.pattern)
		if (err != nil) != tt.err || !tt.err && got != tt.want {
			t.Errorf("balanceValue(%q, %q) = %v, %v; want %v (error %v)", tt.text, tt.pattern, got, err, tt.want, tt.err)
		}
	}
}

// TestBalanceCheckSchedule runs the checker on a fake clock: a check runs
// once the phone is up and then every period, a failed one is tried again
// after 15 minutes, a changed code runs at once, and no timer is armed
// while no check is configured or the phone is down.
func TestBalanceCheckSchedule(t *testing.T) {
	h := newQueueHarnessCfg(t, func(c *config.Config) {
		c.Phones[0].Balance = config.Balance{Code: "*100#", Every: config.D(24 * time.Hour)}
	}, 1, 2)
	b := newBalanceChecker(h.a)
	up := false
	var asked []string
	answer := modem.USSDReply{Text: "Balance 5.00"}
	var fail error
	b.up = func(int) bool { return up }
	b.ussd = func(_ context.Context, phone int, code string) (modem.USSDReply, error) {
		asked = append(asked, code)
		return answer, fail
	}
	ctx := context.Background()
	if next := b.round(ctx); !next.IsZero() || len(asked) != 0 {
		t.Fatalf("phone down: asked %v, next %v; want nothing and no timer", asked, next)
	}
	up = true
	start := h.clk.Now()
	if next := b.round(ctx); len(asked) != 1 || !next.Equal(start.Add(24*time.Hour)) {
		t.Fatalf("phone up: asked %v, next %v; want one check and the next in 24h", asked, next)
	}
	h.clk.Advance(time.Hour)
	if b.round(ctx); len(asked) != 1 {
		t.Fatalf("asked again before the period: %v", asked)
	}
	h.clk.Set(start.Add(24 * time.Hour))
	fail = errors.New("no answer")
	if next := b.round(ctx); len(asked) != 2 || !next.Equal(h.clk.Now().Add(balanceRetry)) {
		t.Fatalf("after a day: asked %v, next %v; want a second check, retried in %v after failing", asked, next, balanceRetry)
	}
	fail = nil
	cfg := h.a.cfg.Load().Clone()
	cfg.Phones[0].Balance.Code = "*101#"
	h.a.cfg.Store(cfg)
	if b.round(ctx); len(asked) != 3 || asked[2] != "*101#" {
		t.Fatalf("a changed code: asked %v, want *101# at once", asked)
	}
	cfg = cfg.Clone()
	cfg.Phones[0].Balance.Code = ""
	h.a.cfg.Store(cfg)
	if next := b.round(ctx); !next.IsZero() {
		t.Errorf("no check configured: next %v, want no timer", next)
	}
}
