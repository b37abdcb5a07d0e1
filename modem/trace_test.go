package modem

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/simhook/simhook/modem/modemsim"
)

func TestMaskSecrets(t *testing.T) {
	tests := []struct{ in, want string }{
		{`AT+CPIN="1234"`, `AT+CPIN=****`},
		{`AT+CPIN=1234`, `AT+CPIN=****`},
		{`at+cpin="12345678","4321"`, `at+cpin=****`},
		{`AT+CPIN2="9876"`, `AT+CPIN2=****`},
		{`AT+CPWD="SC","1234","5678"`, `AT+CPWD=****`},
		{`AT+CLCK="SC",0,"1234"`, `AT+CLCK="SC",0,****`},
		{`AT+CPIN?`, `AT+CPIN?`},
		{`+CPIN: READY`, `+CPIN: READY`},
		{`AT+CMGS=23`, `AT+CMGS=23`},
		{`AT+CLCK="SC",2`, `AT+CLCK="SC",2`},
	}
	for _, tt := range tests {
		if got := maskSecrets(tt.in); got != tt.want {
			t.Errorf("maskSecrets(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestLineSink cuts chunks as the serial port delivers them (half lines,
// several lines, a prompt, a PDU ended by Ctrl-Z) into lines per direction.
func TestLineSink(t *testing.T) {
	tests := []struct {
		name   string
		chunks [][2]string // direction, bytes
		want   []TraceLine
	}{
		{"a reply in pieces", [][2]string{{"w", "AT+CSQ\r"}, {"r", "\r\n+CS"}, {"r", "Q: 20,99\r\n\r\nOK\r\n"}},
			[]TraceLine{{"w", "AT+CSQ"}, {"r", "+CSQ: 20,99"}, {"r", "OK"}}},
		{"interleaved directions keep their own halves", [][2]string{{"r", "+CMT"}, {"w", "AT\r"}, {"r", "I: \"SM\",3\r\n"}},
			[]TraceLine{{"w", "AT"}, {"r", `+CMTI: "SM",3`}}},
		{"a prompt and a PDU", [][2]string{{"w", "AT+CMGS=18\r"}, {"r", "\r\n> "}, {"w", "0011000B91\x1a"}},
			[]TraceLine{{"w", "AT+CMGS=18"}, {"r", "> "}, {"w", "0011000B91"}}},
		{"a PIN is masked", [][2]string{{"w", "AT+CPIN=\"0000\"\r"}}, []TraceLine{{"w", "AT+CPIN=****"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []TraceLine
			s := newLineSink(func(l TraceLine) { got = append(got, l) })
			for _, c := range tt.chunks {
				s.Printf(c[0], []byte(c[1]))
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("line %d: %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTraceEndToEnd runs a phone with a PIN on the pty simulator: with the
// trace on, the whole conversation is logged at debug level with the PIN
// masked; turned off, nothing more is logged; a subscriber gets the lines
// while it listens.
func TestTraceEndToEnd(t *testing.T) {
	m := modemsim.Start(t, modemsim.Options{PIN: "4711"})
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rec := &recorder{}
	clk := quietClock(t)
	p := runPhone(t, m, rec, func(c *Config) {
		c.Clock, c.ProbeInterval = clk, time.Hour
		c.PIN, c.Trace, c.Logger = "4711", true, logger
	})
	eventually(t, 10*time.Second, "phone up", rec.up)
	out := logs.String()
	for _, want := range []string{`msg=at phone=1 dir=w line="AT+CPIN=****"`, `line="AT+CNMI=`, `dir=r line=OK`} {
		if !strings.Contains(out, want) {
			t.Errorf("trace lacks %q", want)
		}
	}
	if strings.Contains(out, "4711") {
		t.Error("the PIN appears in the trace")
	}

	p.SetTrace(false)
	lines, stop := p.SubscribeTrace()
	before := strings.Count(logs.String(), "msg=at ")
	// The health probe, once serve has armed it (after its first sweep).
	armed := func(now time.Time, deadlines []time.Time) bool {
		return len(deadlines) > 0 && !deadlines[len(deadlines)-1].Before(now.Add(time.Hour))
	}
	if !waitClock(clk, armed) {
		t.Fatalf("no health probe armed: timers %v", relative(clk, clk.Deadlines()))
	}
	clk.Advance(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sawCSQ := false
	for !sawCSQ {
		select {
		case l := <-lines:
			sawCSQ = l.Dir == "w" && l.Line == "AT+CSQ" // the health probe
		case <-ctx.Done():
			t.Fatal("the subscriber never saw the health probe")
		}
	}
	stop()
	if after := strings.Count(logs.String(), "msg=at "); after != before {
		t.Errorf("%d lines logged with the trace setting off", after-before)
	}
	if p.trace.on.Load() {
		t.Error("the trace stays on with no subscriber and the setting off")
	}
}
