package agent

import (
	"testing"
	"time"
)

// samples returns n samples sent at the given instants, the first failed of
// them with status "failed" and the rest "delivered".
func samples(at time.Time, n, failed int) []sentSample {
	out := make([]sentSample, n)
	for i := range out {
		out[i] = sentSample{At: at, Status: "delivered"}
		if i < failed {
			out[i].Status = "failed"
		}
	}
	return out
}

func TestReliabilityRuleBoundaries(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	rule := reliabilityRule{Kind: "failed", Rate: 0.10, MinVolume: 25, Period: 120 * time.Minute, Grace: time.Minute}
	inside := now.Add(-30 * time.Minute)
	tests := []struct {
		name      string
		samples   []sentSample
		lastAlert time.Time
		rule      reliabilityRule
		want      verdict
		rate      string
	}{
		{"below min volume", samples(inside, 24, 10), time.Time{}, rule, verdict{24, 10, false}, "0.4167"},
		{"exactly at min volume and rate", samples(inside, 25, 3), time.Time{}, rule, verdict{25, 3, true}, "0.1200"},
		{"exactly at rate", samples(inside, 30, 3), time.Time{}, rule, verdict{30, 3, true}, "0.1000"},
		{"just under rate", samples(inside, 31, 3), time.Time{}, rule, verdict{31, 3, false}, "0.0968"},
		{"twenty percent at 0.2", samples(inside, 30, 6), time.Time{}, reliabilityRule{Kind: "failed", Rate: 0.2, MinVolume: 25, Period: 2 * time.Hour, Grace: time.Minute}, verdict{30, 6, true}, "0.2000"},
		{"inside grace window ignored", samples(now.Add(-30*time.Second), 30, 30), time.Time{}, rule, verdict{0, 0, false}, "0.0000"},
		{"exactly at grace edge counted", samples(now.Add(-time.Minute), 25, 25), time.Time{}, rule, verdict{25, 25, true}, "1.0000"},
		{"exactly at period edge counted", samples(now.Add(-120*time.Minute), 25, 25), time.Time{}, rule, verdict{25, 25, true}, "1.0000"},
		{"older than period ignored", samples(now.Add(-121*time.Minute), 30, 30), time.Time{}, rule, verdict{0, 0, false}, "0.0000"},
		{"after an alert only newer count", samples(inside, 30, 30), inside, rule, verdict{0, 0, false}, "0.0000"},
		{"fresh volume after alert", append(samples(inside, 30, 30), samples(inside.Add(time.Minute), 25, 3)...), inside, rule, verdict{25, 3, true}, "0.1200"},
		{"unknown kind counts unknown", []sentSample{{inside, "unknown"}, {inside, "failed"}}, time.Time{}, reliabilityRule{Kind: "unknown", Rate: 0.5, MinVolume: 2, Period: time.Hour, Grace: time.Minute}, verdict{2, 1, true}, "0.5000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.rule.evaluate(tt.samples, now, tt.lastAlert)
			if got != tt.want {
				t.Fatalf("evaluate = %+v, want %+v", got, tt.want)
			}
			if got.Rate() != tt.rate {
				t.Fatalf("Rate() = %q, want %q", got.Rate(), tt.rate)
			}
		})
	}
}
