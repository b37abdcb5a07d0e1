package agent

import (
	"testing"

	"github.com/simhook/simhook/config"
)

// TestPhoneChangedIgnoresTrace: turning a phone's AT trace on or off, and
// its sending limits, gap, prefixes and balance check, apply to the running
// phone, never a reason to restart it (a restart would cut a send short);
// any other change restarts it.
func TestPhoneChangedIgnoresTrace(t *testing.T) {
	base := config.Phone{ID: 1, Port: "/dev/ttyUSB0", Baud: 115200}
	tests := []struct {
		name    string
		change  func(p *config.Phone)
		restart bool
	}{
		{"trace on", func(p *config.Phone) { p.Trace = true }, false},
		{"nothing", func(p *config.Phone) {}, false},
		{"limits", func(p *config.Phone) { p.Limits = config.Limits{Day: 100, DayReset: "06:00"} }, false},
		{"send gap", func(p *config.Phone) { p.SendGap.Max = config.D(3e9) }, false},
		{"allowed prefixes", func(p *config.Phone) { p.Allow = []string{"+33"} }, false},
		{"balance check", func(p *config.Phone) { p.Balance = config.Balance{Code: "*100#", Every: config.D(36e11)} }, false},
		{"baud", func(p *config.Phone) { p.Baud = 9600 }, true},
		{"trace on and port", func(p *config.Phone) { p.Trace, p.Port = true, "/dev/ttyUSB1" }, true},
	}
	for _, tt := range tests {
		n := base
		tt.change(&n)
		if got := phoneChanged(base, n); got != tt.restart {
			t.Errorf("%s: restart %v, want %v", tt.name, got, tt.restart)
		}
	}
}
