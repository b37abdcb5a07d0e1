package modem

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/tpdu"
)

// sendTimeout bounds one +CMGS: the network can be slow to accept.
const sendTimeout = 60 * time.Second

// encodeSubmit splits text into SMS-SUBMIT TPDUs for to, with the given
// concatenation reference and status-report request.
func encodeSubmit(to, text string, ref int, statusReport bool) ([]tpdu.TPDU, error) {
	tmpl, err := tpdu.NewSubmit()
	if err != nil {
		return nil, err
	}
	da := tpdu.NewAddress(tpdu.FromNumber(to))
	if !strings.HasPrefix(to, "+") {
		da.SetTypeOfNumber(tpdu.TonUnknown)
	}
	tmpl.DA = da
	if statusReport {
		tmpl.FirstOctet |= tpdu.FoSRR
	}
	enc := sms.NewEncoder(sms.WithTemplate(*tmpl))
	enc.ConcatRef = &fixedRef{ref}
	pdus, err := enc.Encode([]byte(text))
	if err == nil && len(pdus) == 0 {
		// The encoder gives nothing for an empty text; an empty SMS is
		// still one message.
		pdus = []tpdu.TPDU{*tmpl}
	}
	return pdus, err
}

// fixedRef hands out one concatenation reference.
type fixedRef struct{ n int }

func (f *fixedRef) Count() int { return f.n }

// Parts returns how many SMS text needs, or ErrTooLong beyond 255.
func Parts(text string) (int, error) {
	pdus, err := encodeSubmit("+10000", text, 1, false)
	if err != nil {
		return 0, fmt.Errorf("modem: %w", err)
	}
	if len(pdus) > 255 {
		return len(pdus), ErrTooLong
	}
	return len(pdus), nil
}

// Send sends text to a recipient, as several concatenated SMS when long
// (with a fresh reference from Config.RefSource), asking for status reports
// when statusReport. It returns the TP-MR of every part the modem accepted;
// on failure, those accepted so far and the error. An error that wraps
// ErrUnconfirmed means the part after the returned ones reached the modem
// without a verdict: it may have been sent.
func (p *Phone) Send(ctx context.Context, to, text string, statusReport bool) ([]int, error) {
	return p.SendEach(ctx, to, text, statusReport, SendHooks{})
}

// SendHooks follow a send part by part, so that a caller can record its
// progress durably. Nil fields are skipped.
type SendHooks struct {
	// Handing runs when the modem prompts for a part, just before its PDU
	// is written: from then on the modem may send it. An error stops the
	// send there, with the prompt cancelled and nothing sent.
	Handing func(part int) error
	// Accepted runs with a part's reference as soon as the modem answers
	// it, before the next part is handed over, so that the reference is on
	// record even if the process dies before the send ends.
	Accepted func(part, ref int)
}

// SendEach is Send with hooks that follow each part.
func (p *Phone) SendEach(ctx context.Context, to, text string, statusReport bool, hooks SendHooks) ([]int, error) {
	if err := ValidNumber(to); err != nil {
		return nil, err
	}
	eng := p.engine()
	if eng == nil {
		return nil, ErrNotReady
	}
	pdus, err := encodeSubmit(to, text, 1, statusReport)
	if err != nil {
		return nil, fmt.Errorf("modem: %w", err)
	}
	if len(pdus) > 255 {
		return nil, ErrTooLong
	}
	if len(pdus) > 1 {
		ref, err := p.concatRef()
		if err != nil {
			return nil, fmt.Errorf("modem: concatenation reference: %w", err)
		}
		if pdus, err = encodeSubmit(to, text, ref, statusReport); err != nil {
			return nil, fmt.Errorf("modem: %w", err)
		}
	}
	var refs []int
	for i := range pdus {
		b, err := pdus[i].MarshalBinary()
		if err != nil {
			return refs, fmt.Errorf("modem: %w", err)
		}
		var handing func() error
		if hooks.Handing != nil {
			handing = func() error { return hooks.Handing(i) }
		}
		lines, err := eng.CommandPDU(ctx, "+CMGS="+strconv.Itoa(len(b)), "00"+strings.ToUpper(hex.EncodeToString(b)), sendTimeout, handing)
		if err != nil {
			return refs, fmt.Errorf("part %d of %d: %w", i+1, len(pdus), err)
		}
		mr := -1
		for _, l := range lines {
			if hasPrefix(l, "+CMGS:") {
				if n, err := strconv.Atoi(strings.TrimSpace(l[len("+CMGS:"):])); err == nil {
					mr = n
				}
			}
		}
		if mr < 0 {
			// OK means the modem took the part; without its reference the
			// outcome cannot be matched, but the part may well be on its way.
			return refs, fmt.Errorf("part %d of %d: %w: OK without a +CMGS reference", i+1, len(pdus), ErrUnconfirmed)
		}
		refs = append(refs, mr)
		if hooks.Accepted != nil {
			hooks.Accepted(i, mr)
		}
	}
	return refs, nil
}

// concatRef returns the next concatenation reference (1-255).
func (p *Phone) concatRef() (int, error) {
	if p.cfg.RefSource != nil {
		r, err := p.cfg.RefSource()
		if err != nil {
			return 0, err
		}
		return int(r%255) + 1, nil
	}
	p.refMu.Lock()
	defer p.refMu.Unlock()
	p.nextRef = p.nextRef%255 + 1
	return int(p.nextRef), nil
}

// HangUp ends the current call (ATH, or AT+CHUP where ATH is refused).
func (p *Phone) HangUp(ctx context.Context) error {
	eng := p.engine()
	if eng == nil {
		return ErrNotReady
	}
	if _, err := p.cmd(ctx, eng, "H"); err != nil {
		if _, err2 := p.cmd(ctx, eng, "+CHUP"); err2 != nil {
			return errors.Join(err, err2)
		}
	}
	return nil
}
