package modem

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/simhook/simhook/internal/clock"
)

// initialise brings a freshly opened modem to the state the driver needs:
// answering, no echo, numeric errors, SIM unlocked, registered, PDU mode,
// storage chosen, new messages stored and announced, reports and caller id
// on.
func (p *Phone) initialise(ctx context.Context, eng *engine) error {
	if err := p.wakeUp(ctx, eng); err != nil {
		return err
	}
	steps := []string{"E0", "+CMEE=1"}
	for _, c := range steps {
		if _, err := p.cmd(ctx, eng, c); err != nil {
			return fmt.Errorf("init %s: %w", c, err)
		}
	}
	if err := p.unlock(ctx, eng); err != nil {
		return err
	}
	if err := p.waitRegistered(ctx, eng); err != nil {
		return err
	}
	st := p.cfg.Storage
	if _, err := p.cmd(ctx, eng, "+CMGF=0"); err != nil {
		return fmt.Errorf("init +CMGF=0: %w", err)
	}
	lines, err := p.cmd(ctx, eng, fmt.Sprintf(`+CPMS="%s","%s","%s"`, st, st, st))
	if err != nil {
		return fmt.Errorf("init +CPMS: %w", err)
	}
	capacity := 0
	for _, l := range lines {
		if hasPrefix(l, "+CPMS:") {
			if _, total, ok := parseCPMS(l, 2); ok {
				capacity = total
			}
		}
	}
	p.mu.Lock()
	p.capacity = capacity
	p.mu.Unlock()
	ds := 0
	if p.cfg.DeliveryReports {
		ds = 2
	}
	if _, err := p.cmd(ctx, eng, fmt.Sprintf("+CNMI=2,1,0,%d,0", ds)); err != nil {
		if ds == 0 {
			return fmt.Errorf("init +CNMI: %w", err)
		}
		// Some modems cannot store reports: take them directly.
		if _, err := p.cmd(ctx, eng, "+CNMI=2,1,0,1,0"); err != nil {
			return fmt.Errorf("init +CNMI: %w", err)
		}
	}
	if _, err := p.cmd(ctx, eng, "+CLIP=1"); err != nil {
		p.log.Warn("modem refuses caller id (+CLIP=1)", "phone", p.cfg.ID, "err", err)
	}
	p.identify(ctx, eng)
	for _, c := range p.cfg.Init {
		c = strings.TrimSpace(c)
		if len(c) >= 2 && strings.EqualFold(c[:2], "AT") {
			c = c[2:]
		}
		if _, err := p.cmd(ctx, eng, c); err != nil {
			return fmt.Errorf("init (configured) AT%s: %w", c, err)
		}
	}
	return nil
}

// wakeUp sends AT until the modem answers OK, skipping banners and junk.
// A modem that answers ERROR to everything (after a firmware hiccup) is
// asked again at once, for up to ten seconds, rather than after a
// reconnection backoff each time.
func (p *Phone) wakeUp(ctx context.Context, eng *engine) error {
	if err := eng.cancelPrompt(ctx); err != nil {
		return err
	}
	deadline := p.now().Add(10 * time.Second)
	var err error
	for p.now().Before(deadline) {
		if _, err = eng.Command(ctx, "", 2*time.Second); err == nil {
			return nil
		}
		if errors.Is(err, ErrClosed) || ctx.Err() != nil {
			return err
		}
	}
	return fmt.Errorf("modem does not answer AT: %w", err)
}

// unlock enters the PIN if the SIM asks for one, once.
func (p *Phone) unlock(ctx context.Context, eng *engine) error {
	lines, err := p.cmd(ctx, eng, "+CPIN?")
	if err != nil {
		return fmt.Errorf("init +CPIN?: %w", err)
	}
	status := ""
	for _, l := range lines {
		if hasPrefix(l, "+CPIN:") {
			status = strings.TrimSpace(l[len("+CPIN:"):])
		}
	}
	switch status {
	case "READY", "":
		return nil
	case "SIM PIN":
		if p.cfg.PIN == "" {
			return errors.New("the SIM needs a PIN and none is configured")
		}
		p.mu.Lock()
		refused := p.pinRefused
		p.mu.Unlock()
		if refused {
			// Never retried blindly, not even after a reconnect: three
			// wrong PINs lock the SIM. A new Phone (a new configuration)
			// tries again, once.
			return errors.New("the configured PIN was refused before; not retrying it, fix the configuration")
		}
		if _, err := p.cmd(ctx, eng, fmt.Sprintf(`+CPIN="%s"`, p.cfg.PIN)); err != nil {
			var cme *CMEError
			if errors.As(err, &cme) {
				p.mu.Lock()
				p.pinRefused = true
				p.mu.Unlock()
			}
			return fmt.Errorf("the configured PIN was refused (%w); not retrying, fix the configuration", err)
		}
		return nil
	default:
		return fmt.Errorf("SIM state %q needs manual action", status)
	}
}

// waitRegistered waits up to a minute for network registration.
func (p *Phone) waitRegistered(ctx context.Context, eng *engine) error {
	deadline := p.now().Add(time.Minute)
	for {
		lines, err := p.cmd(ctx, eng, "+CREG?")
		if err != nil {
			return fmt.Errorf("init +CREG?: %w", err)
		}
		reg := ""
		for _, l := range lines {
			if hasPrefix(l, "+CREG:") {
				reg = registrationName(l)
			}
		}
		p.setState(func(s *State) { s.Registration = reg })
		if reg == "home" || reg == "roaming" {
			return nil
		}
		if p.now().After(deadline) {
			return fmt.Errorf("not registered to a network (%s)", reg)
		}
		if !clock.Sleep(p.cfg.Clock, time.Second, ctx.Done()) {
			return ctx.Err()
		}
	}
}

// identify reads the modem's identity for the state (best effort).
func (p *Phone) identify(ctx context.Context, eng *engine) {
	one := func(c string) string {
		lines, err := p.cmd(ctx, eng, c)
		if err != nil || len(lines) == 0 {
			return ""
		}
		l := lines[0]
		if i := strings.Index(l, ":"); i >= 0 && (l[0] == '+' || l[0] == '^') {
			l = l[i+1:]
		}
		return strings.TrimSpace(l)
	}
	manufacturer, model, imei, iccid := one("+CGMI"), one("+CGMM"), one("+CGSN"), one("+CCID")
	op := ""
	if lines, err := p.cmd(ctx, eng, "+COPS?"); err == nil && len(lines) > 0 {
		if parts := strings.Split(lines[0], ","); len(parts) >= 3 {
			op = strings.Trim(parts[2], `"`)
		}
	}
	p.setState(func(s *State) {
		s.Manufacturer, s.Model, s.IMEI, s.ICCID, s.Operator = manufacturer, model, imei, iccid, op
	})
}

// registrationName reads the stat of a +CREG line ("+CREG: 0,1" or the
// unsolicited "+CREG: 1").
func registrationName(line string) string {
	v := strings.TrimSpace(line[strings.Index(line, ":")+1:])
	parts := strings.Split(v, ",")
	stat := parts[0]
	if len(parts) >= 2 {
		stat = parts[1]
	}
	switch strings.TrimSpace(stat) {
	case "1":
		return "home"
	case "5":
		return "roaming"
	case "2":
		return "searching"
	case "3":
		return "denied"
	case "0":
		return "not registered"
	}
	return "unknown"
}

func hasPrefix(s, p string) bool { return strings.HasPrefix(s, p) }
