package modem

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/simhook/simhook/modem/modemsim"
	"go.bug.st/serial/enumerator"
)

// noPaceBackoff is a backoff no test can sit out: a phone that comes back
// within a test's deadline did not wait for it.
var noPaceBackoff = Backoff{Initial: time.Hour, Max: time.Hour}

// TestReplugIsNotPaced pulls a by-id style link and its directory away and
// brings them back, six times: the phone must open the device when it
// appears, never after a backoff (an hour here) and never thanks to the
// fallback poll (also an hour), so only the directory watch can wake it.
func TestReplugIsNotPaced(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "serial", "by-id", "usb-Sim_Modem-if00-port0")
	m := modemsim.Start(t, modemsim.Options{Link: link})
	rec := &recorder{}
	p := runPhone(t, m, rec, func(c *Config) { quietly(t, c); c.Backoff = noPaceBackoff; c.devPoll = time.Hour })
	eventually(t, 10*time.Second, "phone up", rec.up)
	for round := range 6 {
		if err := m.Unplug(); err != nil {
			t.Fatal(err)
		}
		if round%2 == 1 {
			// The last USB serial device gone: udev removes the directory.
			if err := os.RemoveAll(filepath.Join(dir, "serial")); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, 10*time.Second, "phone waiting for its device", func() bool { return p.State().Absent })
		if err := m.Replug(); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "phone up after replug", rec.up)
	}
	if p.State().Reconnects < 6 {
		t.Errorf("%d reconnects after 6 replugs", p.State().Reconnects)
	}
}

// TestStartsWithoutDevice: a phone whose modem is not plugged in at start
// waits for it and opens it when it appears.
func TestStartsWithoutDevice(t *testing.T) {
	link := filepath.Join(t.TempDir(), "by-id", "modem")
	m := modemsim.Start(t, modemsim.Options{Link: link})
	if err := m.Unplug(); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	p := runPhone(t, m, rec, func(c *Config) { quietly(t, c); c.Backoff = noPaceBackoff; c.devPoll = time.Hour })
	eventually(t, 10*time.Second, "phone waiting for its device", func() bool { return p.State().Absent })
	if st := p.State(); st.Status != "down" {
		t.Errorf("status %q while the device is missing", st.Status)
	}
	if err := m.Replug(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "phone up", rec.up)
	if p.State().Absent {
		t.Error("still marked absent once up")
	}
}

// TestResetReenumerates sends AT+CFUN=1,1: the simulated USB modem goes
// away and comes back as a new tty behind the same link, and the phone
// follows it without a backoff.
func TestResetReenumerates(t *testing.T) {
	link := filepath.Join(t.TempDir(), "by-id", "modem")
	m := modemsim.Start(t, modemsim.Options{Link: link, ReenumerateDelay: 300 * time.Millisecond})
	rec := &recorder{}
	p := runPhone(t, m, rec, func(c *Config) { quietly(t, c); c.Backoff = noPaceBackoff; c.devPoll = time.Hour })
	eventually(t, 10*time.Second, "phone up", rec.up)
	for i := range 3 {
		before := m.PluggedAt()
		if err := p.Reset(t.Context()); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "re-enumeration", func() bool { return m.PluggedAt().After(before) })
		eventually(t, 10*time.Second, "phone up after the reset", rec.up)
		if m.Resets() != i+1 {
			t.Fatalf("%d resets after %d AT+CFUN=1,1", m.Resets(), i+1)
		}
	}
	if _, err := m.InjectSMS(modemsim.SMS{From: "+33612345678", Text: "after the resets"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the SMS", func() bool { return rec.count() == 1 })
}

// TestResetNeedsAnUpPhone: a phone that is down has no modem to reset.
func TestResetNeedsAnUpPhone(t *testing.T) {
	p := NewPhone(Config{ID: 1, Port: "/nonexistent/tty"}, &recorder{})
	if err := p.Reset(t.Context()); err != ErrNotReady {
		t.Errorf("reset of a down phone: %v, want ErrNotReady", err)
	}
}

// TestMatchWaitsForNewPort: a matched phone whose modem is absent looks
// again as soon as a port appears in the watched directories, not after
// its backoff or the half-minute recheck.
func TestMatchWaitsForNewPort(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "ttyUSB7")
	m := modemsim.Start(t, modemsim.Options{Link: link})
	if err := m.Unplug(); err != nil {
		t.Fatal(err)
	}
	saved := listPorts
	t.Cleanup(func() { listPorts = saved })
	listPorts = func() ([]*enumerator.PortDetails, error) {
		if !devicePresent(link) {
			return nil, nil
		}
		return []*enumerator.PortDetails{{Name: link, IsUSB: true, VID: "12d1", PID: "1506"}}, nil
	}
	rec := &recorder{}
	p := runPhone(t, m, rec, func(c *Config) {
		quietly(t, c)
		c.Port, c.Match = "", Match{USB: "12d1:1506"}
		c.Backoff, c.devPoll, c.matchDirs = noPaceBackoff, time.Hour, []string{dir}
	})
	eventually(t, 10*time.Second, "phone waiting for a port", func() bool { return p.State().Absent })
	if err := m.Replug(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "phone up", rec.up)
}
