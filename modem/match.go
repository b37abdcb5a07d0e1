package modem

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.bug.st/serial/enumerator"
)

// listPorts lists the serial ports with their USB ids; tests replace it
// (pseudo-terminals are not enumerated).
var listPorts = func() ([]*enumerator.PortDetails, error) { return enumerator.GetDetailedPortsList() }

// match finds the port of the modem described by Config.Match: by USB
// vendor:product id from the enumerator, or by asking each candidate port
// for its IMEI (+CGSN) or ICCID (+CCID).
func (p *Phone) match(ctx context.Context) (string, error) {
	m := p.cfg.Match
	ports, err := listPorts()
	if err != nil {
		return "", fmt.Errorf("listing serial ports: %w", err)
	}
	var candidates []string
	for _, port := range ports {
		if m.USB != "" {
			if !port.IsUSB || !strings.EqualFold(port.VID+":"+port.PID, m.USB) {
				continue
			}
		}
		candidates = append(candidates, port.Name)
	}
	if m.IMEI == "" && m.ICCID == "" {
		// Two identical modems share a USB id: take the first one that
		// no other phone holds.
		for _, name := range candidates {
			if release, ok := claimPort(name); ok {
				release()
				return name, nil
			}
		}
		return "", fmt.Errorf("no free serial port matches usb %s (%d in use by other phones)", m.USB, len(candidates))
	}
	for _, name := range candidates {
		id, err := p.askIdentity(ctx, name)
		if err != nil {
			continue
		}
		if m.IMEI != "" && strings.Contains(id, m.IMEI) || m.ICCID != "" && strings.Contains(id, m.ICCID) {
			return name, nil
		}
	}
	return "", fmt.Errorf("no modem matches %+v among %d ports", m, len(candidates))
}

// askIdentity opens a port briefly and returns its +CGSN and +CCID answers.
// A port another phone holds is not touched.
func (p *Phone) askIdentity(ctx context.Context, name string) (string, error) {
	release, ok := claimPort(name)
	if !ok {
		return "", fmt.Errorf("%s is in use by another phone", name)
	}
	defer release()
	port, err := openSerial(name, p.cfg.Baud)
	if err != nil {
		return "", err
	}
	defer port.Close()
	eng := newEngine(port, p.cfg.Clock)
	if err := eng.cancelPrompt(ctx); err != nil {
		return "", err
	}
	var out []string
	for _, c := range []string{"E0", "+CGSN", "+CCID"} {
		lines, err := eng.Command(ctx, c, 2*time.Second)
		if err != nil && c == "E0" {
			return "", err
		}
		out = append(out, lines...)
	}
	return strings.Join(out, " "), nil
}
