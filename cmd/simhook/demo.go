package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem/modemsim"
	"github.com/simhook/simhook/webhook"
)

// demoYAML lowers the reliability rule's volume so that a handful of failed
// sends trips it; everything else is the lab's ordinary configuration.
const demoYAML = `reliability:
  check_interval: 15m
  failed: {enabled: true, rate: 0.10, min_volume: 4, period: 120m, grace: 0s}
`

// demoPhoneYAML gives each demo SIM an hourly limit the demo reaches, and a
// balance check the simulated network answers.
const demoPhoneYAML = `limits: {hour: 6}
balance: {code: "*100#", every: 24h, pattern: "([0-9]+[.,][0-9]+) EUR"}`

// demoStepTimeout bounds each step of the demo.
const demoStepTimeout = 30 * time.Second

// runDemo is `simhook demo`: the whole flow on a simulated modem and a local
// verifying receiver. Every event type is produced for real, delivered over
// HTTP, verified, and counted; the command fails if anything is missing.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", "[--keep] [--dir DIR] [-v]", "Run the whole flow on a simulated modem and a local verifying receiver.")
	keep := fs.Bool("keep", false, "keep the demo directory (config, outbox file) afterwards")
	dir := fs.String("dir", "", "use this `directory` instead of a temporary one")
	verbose := fs.Bool("v", false, "show the agent's log")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if err := noArgs(fs, stderr); err != nil {
		return err
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	fmt.Fprintln(stdout, "simhook demo: a simulated modem, the agent and a verifying receiver, all on this machine.")
	l, err := lab.Start(ctx, lab.Options{
		Dir:         *dir,
		Keep:        *keep,
		Phones:      2,
		Profile:     modemsim.Quectel,
		ExtraYAML:   demoYAML,
		PhoneYAML:   demoPhoneYAML,
		ReceiverOut: stdout,
		Logger:      log,
		Agent:       agent.Options{Logger: log},
		Stopped:     true,
	})
	if err != nil {
		return err
	}
	l.Modems[0].SetUSSD("*100#", modemsim.USSDAnswer{Text: "Solde : 12,50 EUR", Encoding: "ucs2"})
	l.Modems[1].SetUSSD("*100#", modemsim.USSDAnswer{Text: "Your balance is 3.20 EUR", Encoding: "gsm7"})
	startCtx, cancel := context.WithTimeout(ctx, demoStepTimeout)
	err = l.StartAgent(startCtx)
	cancel()
	if err != nil {
		_ = l.Close()
		return err
	}
	defer func() {
		if err := l.Close(); err != nil {
			log.Warn("closing the demo", "err", err)
		}
		if *keep {
			fmt.Fprintf(stdout, "\nKept %s (configuration, outbox.db).\n", l.Dir)
		}
	}()
	fmt.Fprintf(stdout, "  modems    %s, %s (profile %s)\n", l.ModemLink(1), l.ModemLink(2), modemsim.Quectel.Name)
	fmt.Fprintf(stdout, "  receiver  %s\n", l.ReceiverURL)
	fmt.Fprintf(stdout, "  config    %s\n", l.ConfigPath)
	fmt.Fprintf(stdout, "  outbox    %s\n\n", l.Dir+"/state/"+agent.OutboxFile)

	d := &demo{lab: l, out: stdout}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"receive three SMS (GSM 7-bit with €, an emoji, a 3-part text)", d.receive},
		{"send an SMS and get its delivery report", d.send},
		{"an inbound call rings, then the caller hangs up", d.call},
		{"failed sends trip the phone-reliability alert", d.reliability},
		{"phone 2's SIM is barred: its sends fail over to phone 1", d.failover},
		{"per-SIM limits and USSD: a send waits for phone 1's hourly limit; the balances", d.limitsAndUSSD},
	}
	for i, s := range steps {
		fmt.Fprintf(stdout, "── step %d: %s\n", i+1, s.name)
		stepCtx, cancel := context.WithTimeout(ctx, demoStepTimeout)
		err := s.fn(stepCtx)
		cancel()
		if err != nil {
			return fmt.Errorf("demo step %d (%s): %w", i+1, s.name, err)
		}
	}
	return d.summary()
}

// demo carries the state of one demo run.
type demo struct {
	lab *lab.Lab
	out io.Writer
}

// longDemoText needs three concatenated parts.
var longDemoText = strings.Repeat("simhook keeps every SMS in its outbox until the webhook is delivered. ", 5)

func (d *demo) receive(ctx context.Context) error {
	m := d.lab.Modems[0]
	for _, s := range []modemsim.SMS{
		{From: "+33612345678", Text: "Hello from the gateway: 20€ [ok] {a|b} ~^"},
		{From: "+447700900123", Text: "On my way 🚲 see you soon"},
		{From: "MyBank", Text: longDemoText},
	} {
		if _, err := m.InjectSMS(s); err != nil {
			return err
		}
	}
	if err := d.lab.WaitEvents(ctx, webhook.ReceiveSMS, 3); err != nil {
		return err
	}
	for _, ev := range d.lab.EventsOf(webhook.ReceiveSMS) {
		if ev.ReceiveSMS.Origin == "MyBank" && ev.ReceiveSMS.Text != longDemoText {
			return errors.New("the 3-part text arrived altered")
		}
	}
	return nil
}

func (d *demo) send(ctx context.Context) error {
	a := d.lab.Agent()
	st, err := a.Submit(ctx, agent.SendRequest{To: "+33612345678", Text: "Your parcel is ready.", Tag: "demo", Phone: 1})
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "   accepted send #%d, waiting for the modem and the delivery report\n", st.ID)
	if err := d.lab.WaitEvents(ctx, webhook.SendSMS, 1); err != nil {
		return err
	}
	return d.lab.WaitEvents(ctx, webhook.SendSMSStatusChange, 1)
}

func (d *demo) call(ctx context.Context) error {
	c := d.lab.Modems[0].InjectCall("+33698765432")
	if err := d.lab.WaitEvents(ctx, webhook.InboundCall, 1); err != nil {
		c.Hangup()
		return err
	}
	c.Hangup()
	return d.lab.WaitEvents(ctx, webhook.InboundCall, 2)
}

func (d *demo) reliability(ctx context.Context) error {
	const broken = "+33700000001"
	d.lab.Modems[0].SetSendRule(broken, modemsim.SendRule{Outcome: modemsim.Failed})
	a := d.lab.Agent()
	for i := range 3 {
		if _, err := a.Submit(ctx, agent.SendRequest{To: broken, Text: fmt.Sprintf("Reminder %d", i+1), Phone: 1}); err != nil {
			return err
		}
	}
	if err := d.lab.WaitEvents(ctx, webhook.SendSMSStatusChange, 4); err != nil {
		return err
	}
	if err := a.CheckReliability(ctx); err != nil {
		return err
	}
	return d.lab.WaitEvents(ctx, webhook.PhoneReliability, 1)
}

// failover bars phone 2's SIM (+CMS ERROR 8): two sends that name no phone
// are both sent by phone 1, each in one send_sms.
func (d *demo) failover(ctx context.Context) error {
	d.lab.Modems[1].SetSendRule("", modemsim.SendRule{RefuseCMS: 8})
	a := d.lab.Agent()
	before := d.lab.Count(webhook.SendSMS)
	for i := range 2 {
		if _, err := a.Submit(ctx, agent.SendRequest{To: "+33611111111", Text: fmt.Sprintf("Appointment %d confirmed.", i+1)}); err != nil {
			return err
		}
	}
	if err := d.lab.WaitEvents(ctx, webhook.SendSMS, before+2); err != nil {
		return err
	}
	for _, ev := range d.lab.EventsOf(webhook.SendSMS)[before:] {
		if ev.SendSMS.Origin != 1 {
			return fmt.Errorf("send %d went out through phone %d, want phone 1", ev.SendSMS.ID, ev.SendSMS.Origin)
		}
	}
	fmt.Fprintf(d.out, "   both sent by phone 1; %d attempt(s) moved off phone 2\n", a.Counter("sends_failed_over"))
	return nil
}

// limitsAndUSSD fills phone 1's hourly limit (6 parts: the sends so far
// took them), shows a send that waits for it, asks the network a USSD code
// and prints both SIMs' balances.
func (d *demo) limitsAndUSSD(ctx context.Context) error {
	a := d.lab.Agent()
	st, err := a.Submit(ctx, agent.SendRequest{To: "+33612345678", Text: "One too many this hour.", Phone: 1})
	if err != nil {
		return err
	}
	for st.Waiting == nil || st.Waiting.For != "limit" {
		select {
		case <-ctx.Done():
			return fmt.Errorf("send %d never waited for the limit (state %s): %w", st.ID, st.State, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
		if st, err = a.SendStatusOf(st.ID); err != nil {
			return err
		}
	}
	fmt.Fprintf(d.out, "   send #%d waits for %s, until %s\n", st.ID, st.Waiting.Detail, st.Waiting.Until)
	res, err := a.USSD(ctx, agent.USSDRequest{Phone: 2, Code: "*100#"})
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "   USSD *100# on phone 2: %q\n", res.Text)
	for _, p := range a.Phones() {
		for p.Balance == nil || p.Balance.Value == nil {
			select {
			case <-ctx.Done():
				return fmt.Errorf("phone %d's balance check never answered: %w", p.ID, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
			p = a.Phones()[p.ID-1]
		}
		fmt.Fprintf(d.out, "   balance of phone %d: %.2f (%q)\n", p.ID, *p.Balance.Value, p.Balance.Text)
	}
	return nil
}

// summary prints what the receiver verified and fails if anything was
// rejected.
func (d *demo) summary() error {
	fmt.Fprintln(d.out, "\n── summary: webhooks verified by the receiver (both signatures, fresh, no duplicates)")
	tw := tabwriter.NewWriter(d.out, 0, 4, 2, ' ', 0)
	total := 0
	for _, t := range webhook.Types() {
		n := d.lab.Count(t)
		total += n
		fmt.Fprintf(tw, "  %s\t%d\n", t, n)
	}
	fmt.Fprintf(tw, "  total\t%d\n", total)
	tw.Flush()
	st := d.lab.Receiver.Stats()
	fmt.Fprintf(d.out, "  rejected %d, duplicates absorbed %d\n", st.Rejected, st.Duplicates)
	if st.Rejected > 0 {
		return fmt.Errorf("the receiver rejected %d request(s)", st.Rejected)
	}
	fmt.Fprintln(d.out, "\nDemo complete: every event was committed to the outbox, signed, delivered and verified.")
	return nil
}
