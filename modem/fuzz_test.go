package modem

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/warthog618/sms/encoding/tpdu"
)

// FuzzDecodeStored feeds arbitrary PDU text to the decode path the receiver
// uses; it must never panic, whatever a broken modem or network stores.
func FuzzDecodeStored(f *testing.F) {
	f.Add("07913306091093F0040B913316325476F80000621122915522000FEB329C0E7ABB41747419344D3601")
	f.Add("0006D60B911326880736F4111011719551401110117195714000")
	f.Add("00")
	f.Fuzz(func(t *testing.T, s string) {
		_, d, err := decodeStored(s)
		if err != nil {
			return
		}
		if d.SmsType() == tpdu.SmsDeliver {
			r := &receiver{p: &Phone{cfg: Config{ID: 1}.withDefaults()}}
			sp := &storedPart{index: 1, seq: 1, line: s, pdu: d}
			if m, err := r.message([]*storedPart{sp}, 1, false); err == nil && m.Encoding == "" {
				t.Errorf("a decoded message without an encoding")
			}
			_, _ = r.message([]*storedPart{sp, sp}, 3, true)
			_, _, _, _ = d.ConcatInfo()
		}
	})
}

// FuzzLines runs every line parser on arbitrary input: the classification
// of a line and the parsing of the indications the driver acts on.
func FuzzLines(f *testing.F) {
	for _, s := range []string{`+CMTI: "SM",3`, `+CLIP: "+33612345678",145,,,,0`, "+CREG: 0,1", "+CMS ERROR: 321", "RING", `+CLIP: "`, "+CDSI:", "\xff\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		line = clean([]byte(line))
		_, _ = final(line)
		_ = isURC(line, "+CSQ:")
		if strings.HasPrefix(line, "+CMTI:") || strings.HasPrefix(line, "+CDSI:") {
			_, _, _ = parseStorageIndex(line)
		}
		if strings.HasPrefix(line, "+CLIP:") {
			_ = parseCLIP(line)
		}
		if strings.HasPrefix(line, "+CREG:") {
			_ = registrationName(line)
		}
	})
}

// chunkReader hands out its data in small reads, then io.EOF.
type chunkReader struct{ data []byte }

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 7)], c.data)
	c.data = c.data[n:]
	return n, nil
}

func (c *chunkReader) Write(p []byte) (int, error) { return len(p), nil }

// FuzzReader feeds arbitrary bytes to the engine's reader: it must not
// panic or hang, and every indication it queues is a clean, non-empty
// line the dispatcher can parse.
func FuzzReader(f *testing.F) {
	f.Add([]byte("\r\nRING\r\n\r\n+CLIP: \"+33612345678\",145\r\n"))
	f.Add([]byte("\r\n+CMT: ,24\r\n0791\r\n> \r\nOK\r\n"))
	f.Add([]byte("\xff\x00\r\r\n+CMTI: \"SM\",\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e := newEngine(&chunkReader{data: data})
		select {
		case <-e.dead:
		case <-time.After(5 * time.Second):
			t.Fatal("the reader did not stop at EOF")
		}
		for {
			u, ok := e.urcs.pop()
			if !ok {
				break
			}
			if u.line == "" || u.line != strings.TrimSpace(u.line) {
				t.Errorf("queued indication %q", u.line)
			}
			if strings.HasPrefix(u.line, "+CMTI:") {
				_, _, _ = parseStorageIndex(u.line)
			}
			if strings.HasPrefix(u.line, "+CLIP:") {
				_ = parseCLIP(u.line)
			}
		}
		e.drain()
	})
}
