package modem

import (
	"testing"
	"time"

	"github.com/simhook/simhook/modem/modemsim"
	"go.bug.st/serial/enumerator"
)

// TestMatch finds a modem among several ports by USB id, IMEI or ICCID,
// asking each candidate over its real (pseudo-terminal) serial port.
func TestMatch(t *testing.T) {
	a := modemsim.Start(t, modemsim.Options{IMEI: "350000000000001", ICCID: "8933000000000000001"})
	b := modemsim.Start(t, modemsim.Options{IMEI: "350000000000002", ICCID: "8933000000000000002", Profile: modemsim.Huawei})
	saved := listPorts
	t.Cleanup(func() { listPorts = saved })
	listPorts = func() ([]*enumerator.PortDetails, error) {
		return []*enumerator.PortDetails{
			{Name: "/dev/nonexistent-tty", IsUSB: true, VID: "12d1", PID: "1001"},
			{Name: a.Path(), IsUSB: true, VID: "2c7c", PID: "0125"},
			{Name: b.Path(), IsUSB: true, VID: "12d1", PID: "1506"},
		}, nil
	}
	tests := []struct {
		name  string
		match Match
		want  string // "" when nothing must match
	}{
		{"usb id", Match{USB: "2c7c:0125"}, a.Path()},
		{"imei", Match{IMEI: "350000000000002"}, b.Path()},
		{"iccid behind a vendor prefix", Match{ICCID: "8933000000000000002"}, b.Path()},
		{"usb id and imei", Match{USB: "12d1:1506", IMEI: "350000000000002"}, b.Path()},
		{"imei on another usb id", Match{USB: "2c7c:0125", IMEI: "350000000000002"}, ""},
		{"unknown imei", Match{IMEI: "359999999999999"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := quietClock(t)
			p := NewPhone(Config{ID: 1, Match: tt.match, Clock: clk}, &recorder{})
			got, err := p.match(testContext(t))
			if tt.want == "" {
				if err == nil {
					t.Errorf("matched %s", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q %v, want %q; timers armed for %v; modem a got %q, b got %q",
					got, err, tt.want, relative(clk, clk.Deadlines()), a.Commands(), b.Commands())
			}
		})
	}
	// A phone configured by match comes up on the matched port.
	rec := &recorder{}
	p := runPhone(t, b, rec, func(c *Config) { quietly(t, c); c.Port, c.Match = "", Match{IMEI: "350000000000002"} })
	eventually(t, 10*time.Second, "phone up", rec.up)
	if st := p.State(); st.Port != b.Path() || st.IMEI != "350000000000002" {
		t.Errorf("state %+v", st)
	}
}

// TestMatchLeavesPortsOfOtherPhonesAlone: a phone looking for its modem
// must not write to a port another phone holds, and takes the next modem
// with the same USB id instead.
func TestMatchLeavesPortsOfOtherPhonesAlone(t *testing.T) {
	a := modemsim.Start(t, modemsim.Options{IMEI: "350000000000011"})
	b := modemsim.Start(t, modemsim.Options{IMEI: "350000000000012"})
	saved := listPorts
	t.Cleanup(func() { listPorts = saved })
	listPorts = func() ([]*enumerator.PortDetails, error) {
		return []*enumerator.PortDetails{
			{Name: a.Path(), IsUSB: true, VID: "2c7c", PID: "0125"},
			{Name: b.Path(), IsUSB: true, VID: "2c7c", PID: "0125"},
		}, nil
	}
	release, ok := claimPort(a.Path()) // another phone has modem a open
	if !ok {
		t.Fatal("claim")
	}
	defer release()
	before := len(a.Commands())
	tests := []struct {
		name  string
		match Match
		want  string // "" when nothing must match
	}{
		{"same usb id: the free one", Match{USB: "2c7c:0125"}, b.Path()},
		{"imei of the held modem", Match{IMEI: "350000000000011"}, ""},
		{"imei of the free modem", Match{IMEI: "350000000000012"}, b.Path()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewPhone(Config{ID: 2, Match: tt.match, Clock: quietClock(t)}, &recorder{}).match(testContext(t))
			if tt.want == "" && err == nil || tt.want != "" && (err != nil || got != tt.want) {
				t.Errorf("got %q %v, want %q", got, err, tt.want)
			}
		})
	}
	if n := len(a.Commands()) - before; n != 0 {
		t.Errorf("the held modem received %d commands: %q", n, a.Commands()[before:])
	}
}

// TestMatchThroughAPromptLeftOpen: identifying a modem left in a +CMGS
// prompt by a killed program first cancels the prompt.
func TestMatchThroughAPromptLeftOpen(t *testing.T) {
	m := modemsim.Start(t, modemsim.Options{IMEI: "350000000000021"})
	saved := listPorts
	t.Cleanup(func() { listPorts = saved })
	listPorts = func() ([]*enumerator.PortDetails, error) {
		return []*enumerator.PortDetails{{Name: m.Path(), IsUSB: true, VID: "2c7c", PID: "0125"}}, nil
	}
	leavePromptOpen(t, m)
	clk := promptClock(t)
	got, err := NewPhone(Config{ID: 1, Match: Match{IMEI: "350000000000021"}, Clock: clk}, &recorder{}).match(testContext(t))
	if err != nil || got != m.Path() {
		t.Errorf("got %q %v, want %q; timers armed for %v; the modem got %q", got, err, m.Path(), relative(clk.Fake, clk.Deadlines()), m.Commands())
	}
}
