package agent

import (
	"testing"
	"time"

	"github.com/simhook/simhook/config"
)

// TestModemConfigTimings: the per-phone timings of the configuration file
// reach the driver, and a phone that sets none gets the documented
// defaults.
func TestModemConfigTimings(t *testing.T) {
	tests := []struct {
		name  string
		phone string
		want  [5]time.Duration // command, probe, sweep, concat, ring gap
	}{
		{"defaults", "", [5]time.Duration{10 * time.Second, 30 * time.Second, 10 * time.Minute, 24 * time.Hour, 10 * time.Second}},
		{"set", "\n    command_timeout: 20s\n    probe_interval: 1m\n    sweep_interval: 5m\n    concat_timeout: 2h\n    ring_gap: 6s",
			[5]time.Duration{20 * time.Second, time.Minute, 5 * time.Minute, 2 * time.Hour, 6 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := "state_dir: " + t.TempDir() + "\nphones:\n  - id: 1\n    port: /dev/ttyUSB0" + tt.phone + "\n"
			cfg, err := config.Parse([]byte(yaml), "")
			if err != nil {
				t.Fatal(err)
			}
			a, err := New(cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			mc := a.modemConfig(cfg.Phones[0])
			got := [5]time.Duration{mc.CommandTimeout, mc.ProbeInterval, mc.SweepInterval, mc.ConcatTimeout, mc.RingGap}
			if got != tt.want {
				t.Errorf("driver timings %v, want %v", got, tt.want)
			}
		})
	}
}
