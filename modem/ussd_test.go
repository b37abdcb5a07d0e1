package modem

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simhook/simhook/internal/clock"
	"github.com/simhook/simhook/modem/modemsim"
)

// TestUSSDAnswersDecode decodes the +CUSD answers of
// testdata/ussd_answers.txt: status, data coding scheme and text.
func TestUSSDAnswersDecode(t *testing.T) {
	for _, fields := range vectors(t, "testdata/ussd_answers.txt", " | ", 4) {
		line := strings.ReplaceAll(fields[0], `\n`, "\n")
		status, err1 := strconv.Atoi(fields[1])
		dcs, err2 := strconv.Atoi(fields[2])
		text, err3 := strconv.Unquote(fields[3])
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatalf("bad test line %q: %v", fields, err)
		}
		c, ok := parseCUSD(line)
		if !ok {
			t.Errorf("%q: not parsed", line)
			continue
		}
		got := decodeUSSD(c.str, c.dcs)
		if c.m != status || c.dcs != dcs || got != text {
			t.Errorf("%q: got m=%d dcs=%d %q, want m=%d dcs=%d %q", line, c.m, c.dcs, got, status, dcs, text)
		}
	}
}

// TestParseCUSDRejects: lines that are no +CUSD answer are not taken for one.
func TestParseCUSDRejects(t *testing.T) {
	for _, line := range []string{"+CUSD:", "+CUSD: ", "+CUSD: x", "+CUSD: ,\"text\",15", "+CMTI: \"SM\",1", "+CUSD: 99999999999999999999"} {
		if c, ok := parseCUSD(line); ok {
			t.Errorf("%q parsed as %+v", line, c)
		}
	}
}

func TestValidUSSDCode(t *testing.T) {
	tests := []struct {
		code string
		ok   bool
	}{
		{"*100#", true},
		{"#123#", true},
		{"*141*1*5#", true},
		{"1", true},
		{strings.Repeat("1", 160), true},
		{"", false},
		{strings.Repeat("1", 161), false},
		{"*100#\r", false},
		{`*100#",15`, false},
		{"*100# ", false},
		{"ATD", false},
		{"*1+2#", false},
	}
	for _, tt := range tests {
		err := ValidUSSDCode(tt.code)
		if (err == nil) != tt.ok {
			t.Errorf("ValidUSSDCode(%q) = %v, want ok %v", tt.code, err, tt.ok)
		}
	}
}

// ussdPhone is a phone whose engine runs over a scripted modem on a fake
// clock, as if the phone were up; logs holds its log at info level and up.
func ussdPhone(t *testing.T) (*clock.Fake, *scripted, *Phone, *syncBuffer) {
	t.Helper()
	clk := clock.NewFake(fakeStart)
	s, e := newScriptedOn(t, clk)
	logs := &syncBuffer{}
	p := NewPhone(Config{ID: 1, Clock: clk, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))}, &recorder{})
	p.mu.Lock()
	p.eng, p.live = e, e
	p.mu.Unlock()
	return clk, s, p, logs
}

type ussdResult struct {
	reply USSDReply
	err   error
}

// ussdAsync runs p.USSD in the background.
func ussdAsync(p *Phone, code string, timeout time.Duration) <-chan ussdResult {
	done := make(chan ussdResult, 1)
	go func() {
		r, err := p.USSD(context.Background(), code, timeout)
		done <- ussdResult{r, err}
	}()
	return done
}

// expectSoon is expect with a generous deadline, so that an engine that
// writes nothing fails the test instead of hanging it.
func (s *scripted) expectSoon(t *testing.T, want string) {
	t.Helper()
	buf := make([]byte, len(want))
	errc := make(chan error, 1)
	go func() {
		_, err := io.ReadFull(s.toModem, buf)
		errc <- err
	}()
	select {
	case err := <-errc:
		if err != nil || string(buf) != want {
			t.Fatalf("engine wrote %q (%v), want %q", buf, err, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("engine wrote nothing, want %q", want)
	}
}

// result waits, for a generous while, for a call's result.
func result(t *testing.T, done <-chan ussdResult) ussdResult {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("USSD did not return")
		return ussdResult{}
	}
}

// TestUSSDScripted runs USSD exchanges against a scripted modem: the answer
// after the OK or before it, a menu that is closed after reading, the
// network's refusals and the modem's errors.
func TestUSSDScripted(t *testing.T) {
	const send = "AT+CUSD=1,\"*100#\",15\r"
	type step struct{ expect, answer string }
	tests := []struct {
		name  string
		steps []step
		want  USSDReply
		check func(error) bool // nil: no error
		msg   string           // in the error's text
	}{
		{name: "answer after OK", steps: []step{{send, "\r\nOK\r\n\r\n+CUSD: 0,\"Your balance is 12.50 EUR\",15\r\n"}},
			want: USSDReply{Status: 0, Text: "Your balance is 12.50 EUR", DCS: 15}},
		{name: "answer before OK", steps: []step{{send, "\r\n+CUSD: 0,\"Your balance is 12.50 EUR\",15\r\n\r\nOK\r\n"}},
			want: USSDReply{Status: 0, Text: "Your balance is 12.50 EUR", DCS: 15}},
		{name: "answer with echo and indications around it", steps: []step{{send, "AT+CUSD=1,\"*100#\",15\r\r\nOK\r\n\r\n^RSSI:18\r\n\r\n+CUSD: 0,\"D9775D0E1287D961F7B80C4ACF413199AB060315AB52\",15\r\n\r\n+CMTI: \"SM\",2\r\n"}},
			want: USSDReply{Status: 0, Text: "Your balance is 12.50 EUR", DCS: 15}},
		{name: "ucs2", steps: []step{{send, "\r\nOK\r\n\r\n+CUSD: 0,\"041204300448002004310430043B0430043D0441003A002000310032002C00350030002020AC\",72\r\n"}},
			want: USSDReply{Status: 0, Text: "Ваш баланс: 12,50 €", DCS: 72}},
		{name: "menu is closed after reading", steps: []step{
			{send, "\r\nOK\r\n\r\n+CUSD: 1,\"1. Balance\r\n2. Data\r\n3. Offers\",15\r\n"},
			{"AT+CUSD=2\r", "\r\nOK\r\n"}},
			want: USSDReply{Status: 1, Text: "1. Balance\n2. Data\n3. Offers", DCS: 15}},
		{name: "menu with CR line breaks", steps: []step{
			{send, "\r\nOK\r\n\r\n+CUSD: 1,\"1. Balance\r2. Data\",15\r\n"},
			{"AT+CUSD=2\r", "\r\nOK\r\n"}},
			want: USSDReply{Status: 1, Text: "1. Balance\n2. Data", DCS: 15}},
		{name: "menu whose close fails still answers", steps: []step{
			{send, "\r\n+CUSD: 1,\"Reply 1 for data\",15\r\n\r\nOK\r\n"},
			{"AT+CUSD=2\r", "\r\nERROR\r\n"}},
			want: USSDReply{Status: 1, Text: "Reply 1 for data", DCS: 15}},
		{name: "not supported", steps: []step{{send, "\r\nOK\r\n\r\n+CUSD: 4\r\n"}},
			want: USSDReply{Status: 4, DCS: -1}, check: func(err error) bool { return errors.Is(err, ErrUSSD) },
			msg: "modem: USSD: the network does not support this request (+CUSD: 4)"},
		{name: "terminated by the network", steps: []step{{send, "\r\nOK\r\n\r\n+CUSD: 2\r\n"}},
			want: USSDReply{Status: 2, DCS: -1}, check: func(err error) bool { return errors.Is(err, ErrUSSD) },
			msg: "(+CUSD: 2)"},
		{name: "terminated with a text", steps: []step{{send, "\r\nOK\r\n\r\n+CUSD: 2,\"Service unavailable\",15\r\n"}},
			want: USSDReply{Status: 2, Text: "Service unavailable", DCS: 15}},
		{name: "network timeout", steps: []step{{send, "\r\nOK\r\n\r\n+CUSD: 5\r\n"}},
			want: USSDReply{Status: 5, DCS: -1}, check: func(err error) bool { return errors.Is(err, ErrUSSD) && !errors.Is(err, ErrUSSDTimeout) },
			msg: "(+CUSD: 5)"},
		{name: "no text", steps: []step{{send, "\r\nOK\r\n\r\n+CUSD: 0\r\n"}},
			want: USSDReply{Status: 0, DCS: -1}, check: func(err error) bool { return errors.Is(err, ErrUSSD) },
			msg: "without text"},
		{name: "ERROR", steps: []step{{send, "\r\nERROR\r\n"}},
			want: USSDReply{DCS: -1}, check: func(err error) bool { return errors.Is(err, ErrUSSD) && errors.Is(err, ErrCommand) },
			msg: "ERROR"},
		{name: "+CME ERROR", steps: []step{{send, "\r\n+CME ERROR: 30\r\n"}},
			want: USSDReply{DCS: -1}, check: func(err error) bool {
				var cme *CMEError
				return errors.Is(err, ErrUSSD) && errors.As(err, &cme) && cme.Text == "30"
			},
			msg: "+CME ERROR: 30"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, s, p, _ := ussdPhone(t)
			done := ussdAsync(p, "*100#", 0)
			for _, st := range tt.steps {
				s.expectSoon(t, st.expect)
				s.answer(t, st.answer)
			}
			r := result(t, done)
			if r.reply != tt.want {
				t.Errorf("reply %+v, want %+v", r.reply, tt.want)
			}
			switch {
			case tt.check == nil && r.err != nil:
				t.Errorf("error %v", r.err)
			case tt.check != nil && !tt.check(r.err):
				t.Errorf("error %v", r.err)
			case tt.check != nil && !strings.Contains(r.err.Error(), tt.msg):
				t.Errorf("error %q does not say %q", r.err, tt.msg)
			}
			if n := p.Stats().Junk; n != 0 {
				t.Errorf("%d junk lines", n)
			}
		})
	}
}

// TestUSSDTimeout: when the network stays silent, USSD gives up exactly
// when the fake clock reaches the timeout after the modem took the
// request (30s when none is given), not a moment before, and cancels the
// session with AT+CUSD=2.
func TestUSSDTimeout(t *testing.T) {
	tests := []struct {
		timeout, want time.Duration
	}{
		{0, 30 * time.Second},
		{5 * time.Second, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.want.String(), func(t *testing.T) {
			clk, s, p, _ := ussdPhone(t)
			done := ussdAsync(p, "*100#", tt.timeout)
			s.expectSoon(t, "AT+CUSD=1,\"*100#\",15\r")
			start := clk.Now()
			s.answer(t, "\r\nOK\r\n")
			waitDeadlines(t, clk, "waiting for the answer", start.Add(tt.want))
			clk.AdvanceTo(start.Add(tt.want - time.Millisecond))
			waitDeadlines(t, clk, "a moment before the timeout", start.Add(tt.want))
			clk.AdvanceTo(start.Add(tt.want))
			s.expectSoon(t, "AT+CUSD=2\r")
			s.answer(t, "\r\nOK\r\n")
			r := result(t, done)
			if !errors.Is(r.err, ErrUSSDTimeout) || !errors.Is(r.err, ErrTimeout) || errors.Is(r.err, ErrUSSD) {
				t.Errorf("error %v, want ErrUSSDTimeout", r.err)
			}
			if d := clk.Now().Sub(start); d != tt.want {
				t.Errorf("gave up after %v, want %v", d, tt.want)
			}
			// A late answer, after the session was given up, goes to
			// nobody and is no junk.
			s.answer(t, "\r\n+CUSD: 0,\"Too late\",15\r\n")
			s.settle(t)
			if n := p.Stats().Junk; n != 0 {
				t.Errorf("%d junk lines", n)
			}
		})
	}
}

// TestUSSDNotReady: a phone that is not up, and a code that is not one,
// are refused before anything is sent.
func TestUSSDNotReady(t *testing.T) {
	p := NewPhone(Config{ID: 1}, &recorder{})
	if _, err := p.USSD(context.Background(), "*100#", time.Second); !errors.Is(err, ErrNotReady) {
		t.Errorf("phone down: %v, want ErrNotReady", err)
	}
	_, _, up, _ := ussdPhone(t)
	for _, code := range []string{"", "*100#\r\nATD123;", `*100#",15`} {
		if r := result(t, ussdAsync(up, code, time.Second)); r.err == nil || errors.Is(r.err, ErrNotReady) {
			t.Errorf("code %q: %v, want a refusal", code, r.err)
		}
	}
}

// TestUSSDFromTheNetworkIsNotJunk: a +CUSD nobody waits for (a USSD the
// network starts) is an indication: it does not disturb the command in
// flight or the next one, counts as no junk, and is logged at info.
func TestUSSDFromTheNetworkIsNotJunk(t *testing.T) {
	tests := []struct {
		name, during, idle string
	}{
		{name: "during a command", during: "\r\n+CUSD: 0,\"Promo: 1 GB for 1 EUR\",15\r\n"},
		{name: "idle", idle: "\r\n+CUSD: 0,\"Promo: 1 GB for 1 EUR\",15\r\n"},
		{name: "over several lines", idle: "\r\n+CUSD: 1,\"Promo:\r\n1 GB for 1 EUR\",15\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, s, p, logs := ussdPhone(t)
			eng := p.engine()
			if tt.idle != "" {
				s.answer(t, tt.idle)
				s.settle(t)
			}
			done := commandAsync(t, eng, "+CSQ", time.Second)
			s.expectSoon(t, "AT+CSQ\r")
			s.answer(t, "\r\n+CSQ: 17,99\r\n"+tt.during+"\r\nOK\r\n")
			if lines := <-done; strings.Join(lines, "|") != "+CSQ: 17,99" {
				t.Fatalf("+CSQ got %q", lines)
			}
			u := nextURC(t, eng)
			if !strings.HasPrefix(u.line, "+CUSD:") {
				t.Fatalf("indication %q, want the +CUSD", u.line)
			}
			if err := p.handleURC(context.Background(), eng, newReceiver(p), newCallTracker(p), u); err != nil {
				t.Fatal(err)
			}
			if n := p.Stats().Junk; n != 0 {
				t.Errorf("%d junk lines", n)
			}
			if l := logs.String(); !strings.Contains(l, "level=INFO") || !strings.Contains(l, "1 GB for 1 EUR") {
				t.Errorf("log %q, want the USSD at info", l)
			}
		})
	}
}

// TestUSSDThroughSimulator asks the simulated network through its pty: the
// configured answer comes back in every encoding, a menu's session is
// closed, an unknown code is refused and a silent network times out.
func TestUSSDThroughSimulator(t *testing.T) {
	m := modemsim.Start(t, modemsim.Options{})
	m.SetUSSD("*100#", modemsim.USSDAnswer{Text: "Your balance is 12.50 EUR"})
	m.SetUSSD("*101#", modemsim.USSDAnswer{Text: "Your balance is 12.50 EUR", Encoding: "gsm7-packed"})
	m.SetUSSD("*102#", modemsim.USSDAnswer{Text: "Ваш баланс: 12,50 €", Encoding: "ucs2"})
	m.SetUSSD("*103#", modemsim.USSDAnswer{Text: "Остаток 100 МБ 🎉", Encoding: "ucs2", BeforeOK: true})
	m.SetUSSD("*104#", modemsim.USSDAnswer{Text: "1. Balance\n2. Data", Status: 1})
	m.SetUSSD("*105#", modemsim.USSDAnswer{Silent: true})
	rec := &recorder{}
	clk := quietClock(t)
	p := runPhone(t, m, rec, func(c *Config) {
		c.Clock = clk
		c.ProbeInterval, c.SweepInterval = time.Hour, time.Hour
	})
	eventually(t, 10*time.Second, "phone up", rec.up)
	tests := []struct {
		code  string
		want  USSDReply
		check func(error) bool
	}{
		{code: "*100#", want: USSDReply{Status: 0, Text: "Your balance is 12.50 EUR", DCS: 15}},
		{code: "*101#", want: USSDReply{Status: 0, Text: "Your balance is 12.50 EUR", DCS: 15}},
		{code: "*102#", want: USSDReply{Status: 0, Text: "Ваш баланс: 12,50 €", DCS: 72}},
		{code: "*103#", want: USSDReply{Status: 0, Text: "Остаток 100 МБ 🎉", DCS: 72}},
		{code: "*104#", want: USSDReply{Status: 1, Text: "1. Balance\n2. Data", DCS: 15}},
		{code: "*199#", want: USSDReply{Status: 4, DCS: -1}, check: func(err error) bool { return errors.Is(err, ErrUSSD) }},
		{code: "*105#", want: USSDReply{DCS: -1}, check: func(err error) bool { return errors.Is(err, ErrUSSDTimeout) }},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			closes := countCommands(m, "+CUSD=2")
			done := make(chan ussdResult, 1)
			go func() {
				r, err := p.USSD(testContext(t), tt.code, 20*time.Second)
				done <- ussdResult{r, err}
			}()
			if tt.code == "*105#" {
				// The silent network: once the phone waits, move its
				// clock to the end of the wait.
				waiting := func(now time.Time, deadlines []time.Time) bool {
					for _, at := range deadlines {
						if at.Sub(now) == 20*time.Second {
							return true
						}
					}
					return false
				}
				if !waitClock(clk, waiting) {
					t.Fatalf("no USSD wait armed: %v", relative(clk, clk.Deadlines()))
				}
				clk.Advance(20 * time.Second)
			}
			r := result(t, done)
			if r.reply != tt.want {
				t.Errorf("reply %+v, want %+v", r.reply, tt.want)
			}
			if tt.check == nil && r.err != nil || tt.check != nil && !tt.check(r.err) {
				t.Errorf("error %v", r.err)
			}
			wantCloses := 0
			if tt.want.Status == 1 || tt.code == "*105#" {
				wantCloses = 1
			}
			if n := countCommands(m, "+CUSD=2") - closes; n != wantCloses {
				t.Errorf("%d AT+CUSD=2, want %d", n, wantCloses)
			}
			if m.USSDSessionOpen() {
				t.Error("the USSD session was left open")
			}
		})
	}
	if n := p.Stats().Junk; n != 0 {
		t.Errorf("%d junk lines", n)
	}
}

// TestUSSDAndSendTogether: USSD requests whose answers take a while and
// sends started at the same time all succeed.
func TestUSSDAndSendTogether(t *testing.T) {
	m := modemsim.Start(t, modemsim.Options{})
	m.SetUSSD("*100#", modemsim.USSDAnswer{Text: "Your balance is 12.50 EUR", Delay: 300 * time.Millisecond})
	rec := &recorder{}
	p := runPhone(t, m, rec, func(c *Config) { quietly(t, c) })
	eventually(t, 10*time.Second, "phone up", rec.up)
	ctx := testContext(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := p.USSD(ctx, "*100#", 0)
			if err == nil && r.Text != "Your balance is 12.50 EUR" {
				err = errors.New("USSD answered " + r.Text)
			}
			errs <- err
		}()
		for j := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := p.Send(ctx, "+3360000000"+strconv.Itoa(2*i+j), "balance check", false)
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := len(m.SentMessages()); n != 4 {
		t.Errorf("%d messages sent, want 4", n)
	}
	if n := countCommands(m, "+CUSD=1"); n != 2 {
		t.Errorf("%d USSD requests, want 2", n)
	}
}
