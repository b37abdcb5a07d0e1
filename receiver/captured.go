package receiver

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// ErrCapture means the captured bytes are not a request that can be checked.
var ErrCapture = errors.New("unusable capture")

// VerifyCaptured checks one captured request against secrets and reports
// which signatures pass. raw is either a whole HTTP request as `nc -l`
// records it (request line, headers, blank line, body) or only the fields,
// as a form/query string `a=b&c=d` (a leading "?" is allowed) or a JSON
// object. Fields alone carry no Standard Webhooks headers, so only the legacy
// signature can be judged then.
//
// The timestamp is judged against now when tolerance is positive; with 0 the
// report only says how old the request is. The error is for input that is
// not a request at all (it wraps ErrCapture); failing signatures are in the
// Report.
func VerifyCaptured(raw []byte, secrets []string, now time.Time, tolerance time.Duration) (Report, error) {
	req, body, err := parseCaptured(raw)
	if err != nil {
		return Report{}, err
	}
	if tolerance < 0 {
		tolerance = 0
	}
	return analyse(req, body, secrets, now, tolerance), nil
}

// parseCaptured rebuilds the request and its body from captured bytes.
func parseCaptured(raw []byte) (*http.Request, []byte, error) {
	text := bytes.TrimLeft(raw, " \t\r\n")
	if len(text) == 0 {
		return nil, nil, fmt.Errorf("receiver: the capture is empty: %w", ErrCapture)
	}
	if looksLikeHTTP(text) {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(text)))
		if err != nil {
			return nil, nil, fmt.Errorf("receiver: reading the captured HTTP request: %w: %w", err, ErrCapture)
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, nil, fmt.Errorf("receiver: the captured body is shorter than its Content-Length %d (was the capture cut?): %w: %w",
				req.ContentLength, err, ErrCapture)
		}
		return req, body, nil
	}
	fields := bytes.TrimRight(text, " \t\r\n")
	contentType := "application/x-www-form-urlencoded"
	if fields[0] == '{' {
		contentType = "application/json"
	} else {
		fields = bytes.TrimPrefix(fields, []byte("?"))
	}
	req, err := http.NewRequest(http.MethodPost, "http://captured.invalid/", bytes.NewReader(fields))
	if err != nil {
		return nil, nil, fmt.Errorf("receiver: %w: %w", err, ErrCapture)
	}
	req.Header.Set("Content-Type", contentType)
	return req, fields, nil
}

// looksLikeHTTP reports whether text starts with a request line such as
// "POST /hook HTTP/1.1".
func looksLikeHTTP(text []byte) bool {
	line, _, _ := bytes.Cut(text, []byte("\n"))
	f := strings.Fields(string(line))
	return len(f) == 3 && strings.HasPrefix(f[2], "HTTP/")
}

// String explains the report for a person, one check per line, ending with
// the overall judgement. Without Standard Webhooks headers (fields only) the
// judgement rests on the legacy signature alone, and says so.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "request:   %s %s", r.Format, r.Method)
	if r.ID != "" {
		fmt.Fprintf(&b, ", webhook-id %s", r.ID)
	}
	fmt.Fprintf(&b, "\nevent:     %s\n", r.Headline())
	if r.ParseErr != nil && r.Event == nil {
		fmt.Fprintf(&b, "           (not the five webhook fields: %v)\n", r.ParseErr)
	}
	fmt.Fprintf(&b, "legacy:    webhook_signature %s\n", checkLine(r.Legacy))
	fmt.Fprintf(&b, "standard:  webhook-signature %s\n", checkLine(r.Standard))
	if !r.SentAt.IsZero() {
		age := "ago"
		d := roundDur(r.Age)
		if d < 0 {
			d, age = -d, "in the future"
		}
		judged := "not judged"
		if r.Tolerance > 0 && r.Fresh {
			judged = "within the " + r.Tolerance.String() + " tolerance"
		} else if r.Tolerance > 0 {
			judged = "BEYOND the " + r.Tolerance.String() + " tolerance"
		}
		fmt.Fprintf(&b, "sent:      %s (%s %s, %s)\n", r.SentAt.UTC().Format(time.RFC3339), d, age, judged)
	}
	problems := r.Problems(!r.Standard.Present)
	switch {
	case len(problems) > 0:
		b.WriteString("verdict:   NOT genuine\n")
		for _, p := range problems {
			fmt.Fprintf(&b, "           ✘ %s\n", p)
		}
	case !r.Standard.Present:
		b.WriteString("verdict:   legacy signature valid; no Standard Webhooks headers, so the body itself is not proven\n")
	default:
		b.WriteString("verdict:   genuine: both signatures valid\n")
	}
	return b.String()
}

// checkLine is a check's state in a few words.
func checkLine(c Check) string {
	switch {
	case c.OK && c.Secret > 0:
		return fmt.Sprintf("✔ valid (with secret #%d)", c.Secret+1)
	case c.OK:
		return "✔ valid"
	case !c.Present:
		return "— absent"
	}
	return "✘ " + describe(c.Err, "")
}
