package receiver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/simhook/simhook/webhook"
)

// Terminal colours used when Options.Color is set.
const (
	ansiReset  = "\x1b[0m"
	ansiGreen  = "\x1b[32m"
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiDim    = "\x1b[2m"
)

// wrapWidth is where the body's field list wraps.
const wrapWidth = 100

// Pretty renders the verdict for a person: a headline such as
//
//	✔ 14:03:07 receive_sms #12 from +33612345678 to phone 1: "Hello"
//
// then the body's fields, the reasons for a rejection, and a line with the
// request's format, id and how each signature fared. It ends with a newline.
func (v Verdict) Pretty(color bool) string {
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return code + s + ansiReset
	}
	var b strings.Builder
	clock := v.At.Format("15:04:05")
	switch v.Outcome {
	case Accepted:
		fmt.Fprintf(&b, "%s %s %s\n", paint(ansiGreen, "✔"), clock, v.Headline())
	case Duplicate:
		fmt.Fprintf(&b, "%s %s duplicate %s (already accepted: answered %d, not handed on)\n",
			paint(ansiYellow, "↺"), clock, v.Headline(), v.Status)
	default:
		fmt.Fprintf(&b, "%s %s rejected %s (answered %d)\n", paint(ansiRed, "✘"), clock, v.Headline(), v.Status)
		for _, reason := range v.Reasons {
			fmt.Fprintf(&b, "    %s %s\n", paint(ansiRed, "✘"), reason)
		}
	}
	if v.Outcome == Accepted && v.Event != nil {
		for _, line := range wrapFields(bodyFields(v.Event.Body), wrapWidth-4) {
			fmt.Fprintf(&b, "    %s\n", line)
		}
	}
	fmt.Fprintf(&b, "    %s\n", paint(ansiDim, v.Report.details()))
	return b.String()
}

// String is the verdict as Pretty prints it without colours.
func (v Verdict) String() string { return v.Pretty(false) }

// answer is the short text sent back in the HTTP answer.
func (v Verdict) answer() string {
	switch v.Outcome {
	case Accepted:
		return "accepted " + v.ID + "\n"
	case Duplicate:
		return "duplicate " + v.ID + ": already accepted\n"
	}
	return "rejected: " + strings.Join(v.Reasons, "; ") + "\n"
}

// Headline summarises the event in one line, e.g.
// `receive_sms #12 from +33612345678 to phone 1: "Hello"`.
func (r *Report) Headline() string {
	if r.Event == nil {
		if r.Format == "template" && len(r.Body) > 0 {
			return "template request: " + clip(string(r.Body), 80)
		}
		if r.Method != "" {
			return r.Method + " request"
		}
		return "request"
	}
	return string(r.Event.Type) + " " + describeBody(r.Event.Type, r.Event.Body)
}

// details is the technical line under each verdict.
func (r *Report) details() string {
	parts := []string{r.Format + " " + r.Method}
	if r.ID != "" {
		parts = append(parts, "webhook-id "+r.ID)
	}
	parts = append(parts, "legacy "+mark(r.Legacy), "standard "+mark(r.Standard))
	if !r.SentAt.IsZero() {
		if r.Age >= 0 {
			parts = append(parts, "sent "+roundDur(r.Age).String()+" ago")
		} else {
			parts = append(parts, "sent "+roundDur(-r.Age).String()+" in the future")
		}
	}
	return strings.Join(parts, " · ")
}

// mark is a one-word account of a check.
func mark(c Check) string {
	switch {
	case c.OK && c.Secret > 0:
		return "✔ (secret #" + strconv.Itoa(c.Secret+1) + ")"
	case c.OK:
		return "✔"
	case !c.Present:
		return "absent"
	}
	return "✘"
}

// fields is a decoded body: its members in their original order.
type fields struct {
	keys []string
	vals map[string]json.RawMessage
}

// bodyFields decodes a JSON object keeping its key order; a body that is not
// an object comes back as one field "body".
func bodyFields(body json.RawMessage) fields {
	f := fields{vals: map[string]json.RawMessage{}}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		f.keys, f.vals["body"] = []string{"body"}, body
		return f
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			break
		}
		if _, dup := f.vals[key]; !dup {
			f.keys = append(f.keys, key)
		}
		f.vals[key] = val
	}
	return f
}

// text returns a string member as is, any other member as compact JSON, and
// "?" for a missing one.
func (f fields) text(key string) string {
	raw, ok := f.vals[key]
	if !ok {
		return "?"
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return compact(raw)
}

// isNull reports whether the member is missing or null.
func (f fields) isNull(key string) bool {
	raw, ok := f.vals[key]
	return !ok || string(bytes.TrimSpace(raw)) == "null"
}

func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

// describeBody summarises each event type the way a person would say it.
func describeBody(t webhook.Type, body json.RawMessage) string {
	f := bodyFields(body)
	switch t {
	case webhook.ReceiveSMS:
		return fmt.Sprintf("#%s from %s to phone %s: %s", f.text("id"), f.text("origin"), f.text("destination"), quote(f.text("text")))
	case webhook.SendSMS:
		tag := ""
		if t := f.text("tag"); t != "" && t != "?" {
			tag = ", tag " + strconv.Quote(t)
		}
		return fmt.Sprintf("#%s from phone %s to %s (%s%s): %s", f.text("id"), f.text("origin"), f.text("destination"),
			f.text("status"), tag, quote(f.text("text")))
	case webhook.SendSMSStatusChange:
		s := fmt.Sprintf("sent SMS #%s is now %s", f.text("id"), f.text("status"))
		if !f.isNull("at") {
			s += " (at " + f.text("at") + ")"
		}
		return s
	case webhook.InboundCall:
		caller := "a hidden number"
		if !f.isNull("origin") {
			caller = f.text("origin")
		}
		if f.isNull("end") {
			return fmt.Sprintf("#%s ringing on phone %s: call from %s", f.text("id"), f.text("id_phone"), caller)
		}
		return fmt.Sprintf("#%s ended on phone %s: call from %s, %s → %s", f.text("id"), f.text("id_phone"), caller,
			f.text("start"), f.text("end"))
	case webhook.PhoneReliability:
		return fmt.Sprintf("phone %s: %s of %s sends %s in %s min (rate %s)", f.text("id_phone"), f.text("unreliable"),
			f.text("total"), f.text("reliability_type"), f.text("period"), f.text("rate"))
	}
	return "event"
}

// quote quotes an SMS text for a headline, clipped to a readable length.
func quote(s string) string { return strconv.Quote(clip(s, 60)) }

// clip shortens s to at most n runes, marking the cut with "…".
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// wrapFields lays out "key: value" pairs separated by " · ", wrapping lines
// at width.
func wrapFields(f fields, width int) []string {
	var lines []string
	var cur strings.Builder
	for _, k := range f.keys {
		item := k + ": " + compact(f.vals[k])
		if cur.Len() > 0 && utf8.RuneCountInString(cur.String())+3+utf8.RuneCountInString(item) > width {
			lines = append(lines, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteString(" · ")
		}
		cur.WriteString(item)
	}
	if cur.Len() > 0 {
		lines = append(lines, cur.String())
	}
	return lines
}
