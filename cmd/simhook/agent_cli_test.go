package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem/modemsim"
	"github.com/simhook/simhook/webhook"
)

// TestCLIAgainstRunningAgent drives a running agent (the lab's, on a
// simulated modem) through its unix socket, as an operator would.
func TestCLIAgainstRunningAgent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := lab.Start(ctx, lab.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sock := l.SocketPath()

	if out, _, code := runCmd(t, "phone", "--socket", sock, "ls"); code != 0 || !strings.Contains(out, `"status": "up"`) {
		t.Errorf("phone ls: exit %d\n%s", code, out)
	}
	l.Modems[0].SetUSSD("*100#", modemsim.USSDAnswer{Text: "Баланс: 120,00 ₽", Encoding: "ucs2"})
	if out, errOut, code := runCmd(t, "ussd", "--socket", sock, "--phone", "1", "*100#"); code != 0 || out != "Баланс: 120,00 ₽\n" {
		t.Errorf("ussd: exit %d, printed %q %s", code, out, errOut)
	}
	if _, errOut, code := runCmd(t, "ussd", "--socket", sock, "--phone", "1", "*555#"); code == 0 || !strings.Contains(errOut, "does not support") {
		t.Errorf("ussd with a code the network refuses: exit %d %s", code, errOut)
	}
	out, errOut, code := runCmd(t, "send", "--socket", sock, "--to", "+33612345678", "--text", "from the CLI", "--tag", "cli")
	if code != 0 || !strings.Contains(out, `"id": 1`) {
		t.Fatalf("send: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := runCmd(t, "send", "--socket", sock, "--to", "not a number", "--text", "x"); code == 0 || !strings.Contains(errOut, "phone number") {
		t.Errorf("send to a bad number: exit %d %s", code, errOut)
	}
	if err := l.WaitEvents(ctx, webhook.SendSMSStatusChange, 1); err != nil {
		t.Fatal(err)
	}
	if out, _, code := runCmd(t, "send", "--socket", sock, "--status", "1"); code != 0 || !strings.Contains(out, `"delivered"`) {
		t.Errorf("send --status: exit %d\n%s", code, out)
	}
	if out, _, code := runCmd(t, "outbox", "stats", "--socket", sock); code != 0 || !strings.Contains(out, "lab") {
		t.Errorf("outbox stats: exit %d\n%s", code, out)
	}
	// The receiver has the webhooks; their outcome is committed a moment
	// after the answers came.
	for {
		out, _, code := runCmd(t, "outbox", "ls", "--socket", sock, "--state", "delivered")
		if code == 0 && strings.Contains(out, "send_sms") {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("outbox ls: exit %d\n%s", code, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out, _, code := runCmd(t, "outbox", "show", "--socket", sock, "1"); code != 0 || !strings.Contains(out, "from the CLI") {
		t.Errorf("outbox show: exit %d\n%s", code, out)
	}
	if out, _, code := runCmd(t, "outbox", "malformed", "--socket", sock); code != 0 || !strings.Contains(out, "no malformed PDUs") {
		t.Errorf("outbox malformed before any: exit %d\n%s", code, out)
	}
	broken := []byte{0x04, 0x0B, 0x91, 0x33} // an SMS-DELIVER cut off in its address
	if _, err := l.Modems[0].InjectPDU(broken); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _, code := runCmd(t, "outbox", "malformed", "--socket", sock)
		if code == 0 && strings.Contains(out, "040b9133") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox malformed never listed the broken PDU: exit %d\n%s", code, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, _, code := runCmd(t, "phone", "--socket", sock, "disable", "1"); code != 0 {
		t.Errorf("phone disable: exit %d", code)
	}
	if out, _, _ := runCmd(t, "phone", "--socket", sock, "ls"); !strings.Contains(out, `"send_enabled": false`) {
		t.Errorf("after disable:\n%s", out)
	}
	// trace: the AT conversation streams until the command is stopped; an
	// SMS that arrives meanwhile shows as its +CMTI, the read and the
	// delete. SMSes are injected until one shows (the first may come before
	// the trace is subscribed); the test's context is the only bound.
	traceCtx, stopTrace := context.WithCancel(ctx)
	defer stopTrace()
	var traceOut lockedBuffer
	var traceErr bytes.Buffer // read only once the command has returned
	traced := make(chan error, 1)
	go func() {
		traced <- run(traceCtx, []string{"phone", "--socket", sock, "--seconds", "3600", "trace", "1"}, &traceOut, &traceErr)
	}()
	shows := func(out string) bool {
		return strings.Contains(out, "< +CMTI:") && strings.Contains(out, "> AT+CMG") && strings.Contains(out, "< OK")
	}
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for injected := 0; !shows(traceOut.String()); {
		if injected < 50 {
			if _, err := l.Modems[0].InjectSMS(modemsim.SMS{From: "+33612345678", Text: "traced"}); err != nil {
				t.Fatal(err)
			}
			injected++
		}
		select {
		case <-tick.C:
		case err := <-traced:
			t.Fatalf("phone trace ended before showing an SMS: %v\n%s%s", err, traceOut.String(), traceErr.String())
		case <-ctx.Done():
			stopTrace()
			<-traced
			t.Fatalf("phone trace never showed an SMS (%d injected):\n%s%s", injected, traceOut.String(), traceErr.String())
		}
	}
	stopTrace()
	if err := <-traced; err != nil {
		t.Errorf("phone trace, stopped: %v\n%s", err, traceErr.String())
	}
	// reset: AT+CFUN=1,1 reaches the modem, which re-enumerates; the phone
	// comes back up by itself.
	plugged := l.Modems[0].PluggedAt()
	if out, errOut, code := runCmd(t, "phone", "--socket", sock, "reset", "1"); code != 0 || !strings.Contains(out, `"reset": true`) {
		t.Fatalf("phone reset: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := runCmd(t, "phone", "--socket", sock, "reset", "9"); code == 0 || !strings.Contains(errOut, "9") {
		t.Errorf("reset of an unknown phone: exit %d %s", code, errOut)
	}
	for l.Modems[0].Resets() != 1 || !l.Modems[0].PluggedAt().After(plugged) || l.Agent().Phones()[0].Status != "up" {
		if ctx.Err() != nil {
			t.Fatalf("after phone reset: resets %d, plugged again %v, phone %+v", l.Modems[0].Resets(), l.Modems[0].PluggedAt().After(plugged), l.Agent().Phones()[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lockedBuffer is a bytes.Buffer that a command writes in one goroutine
// while the test reads it in another.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
