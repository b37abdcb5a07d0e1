package receiver

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/simhook/simhook/webhook"
)

// Check is the outcome of one signature scheme on one request.
type Check struct {
	// Present reports whether the request carries this scheme's signature.
	Present bool
	// OK reports whether the signature matched one of the secrets.
	OK bool
	// Secret is the index, in the secrets given, of the one that matched; -1 if none did.
	Secret int
	// Err says why the signature is missing or does not match; nil when OK.
	Err error
}

// Report is everything the checks found out about one request.
type Report struct {
	// Method is the HTTP method ("POST", "GET").
	Method string
	// Format is how the request carries the event: "form", "get", "json", or
	// "template" for a body that is not one of those (only the Standard
	// Webhooks headers identify it).
	Format string
	// ID is the webhook id: the webhook-id header, else webhook_random_id.
	ID string
	// Event is the parsed event; nil for a template body or a malformed request.
	Event *webhook.Event
	// ParseErr says why the request could not be read as the five fields.
	ParseErr error
	// Body is the raw request body (for GET, the raw query string).
	Body []byte
	// Legacy is the webhook_signature check.
	Legacy Check
	// Standard is the webhook-signature check, regardless of the timestamp.
	Standard Check
	// SentAt is the attempt's time from webhook-timestamp; zero if absent.
	SentAt time.Time
	// Age is how long before the check the request was sent (negative: from the future).
	Age time.Duration
	// Tolerance is the allowed |Age|; 0 means the timestamp was not judged.
	Tolerance time.Duration
	// Fresh reports whether |Age| is within Tolerance (always true when Tolerance is 0).
	Fresh bool
	// IDMismatch reports a webhook-id header that differs from webhook_random_id.
	IDMismatch bool
}

// Errors a Check or a Report can carry, for errors.Is.
var (
	// ErrMissing means the scheme's signature is not in the request.
	ErrMissing = errors.New("signature missing")
	// ErrNoSecret means no secret was configured to check with.
	ErrNoSecret = errors.New("no secret configured")
)

// Type returns the event type, or "" when the request was not parsed.
func (r *Report) Type() webhook.Type {
	if r.Event == nil {
		return ""
	}
	return r.Event.Type
}

// Valid reports whether the request is genuine and fresh: every scheme the
// request carries verifies, the Standard Webhooks scheme is present unless
// legacyOnlyOK, the legacy one is present unless the body is a template, the
// timestamp is within tolerance and both ids agree.
func (r *Report) Valid(legacyOnlyOK bool) bool {
	return len(r.Problems(legacyOnlyOK)) == 0
}

// Problems lists, in plain words, what makes the request not Valid; nil when
// it is.
func (r *Report) Problems(legacyOnlyOK bool) []string {
	var p []string
	switch {
	case r.Standard.OK:
	case r.Standard.Present:
		p = append(p, "Standard Webhooks: "+describe(r.Standard.Err, "the body was changed after signing, or signed with another secret"))
	case r.Event == nil:
		p = append(p, "not a simhook request: "+describe(r.ParseErr, ""))
		return p
	case !legacyOnlyOK:
		p = append(p, "Standard Webhooks: no webhook-id/webhook-timestamp/webhook-signature headers (legacy-only requests are not accepted)")
	}
	if r.Standard.Present && !r.Fresh {
		p = append(p, r.staleness())
	}
	if r.Event == nil {
		return p // template body: the headers are all there is to check
	}
	if !r.Legacy.OK {
		p = append(p, "legacy webhook_signature: "+describe(r.Legacy.Err, "signed with another secret"))
	}
	if r.IDMismatch {
		p = append(p, fmt.Sprintf("webhook-id header %q differs from webhook_random_id %q", r.ID, r.Event.RandomID))
	}
	return p
}

// Malformed reports whether the request is not a readable simhook request
// (no event and no headers, incomplete or unreadable headers, or ids that
// disagree under a valid signature), as opposed to one whose signatures
// fail.
func (r *Report) Malformed() bool {
	switch {
	case r.Event == nil && !r.Standard.Present:
		return true
	case r.Standard.Present && (errors.Is(r.Standard.Err, ErrMissing) || errors.Is(r.Standard.Err, webhook.ErrMalformed)):
		return true
	}
	return r.IDMismatch && r.Standard.OK
}

func (r *Report) staleness() string {
	if r.Age < 0 {
		return fmt.Sprintf("webhook-timestamp is %s in the future, beyond the %s tolerance (check the clocks)", roundDur(-r.Age), r.Tolerance)
	}
	return fmt.Sprintf("webhook-timestamp is %s old, beyond the %s tolerance (a replayed request?)", roundDur(r.Age), r.Tolerance)
}

// describe turns a check's error into words for a person; hint says what a
// mismatch usually means.
func describe(err error, hint string) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrMissing):
		return err.Error()
	case errors.Is(err, ErrNoSecret):
		return "no secret configured to check it with"
	case errors.Is(err, webhook.ErrBadSignature) && hint != "":
		return "does not match any secret: " + hint
	case errors.Is(err, webhook.ErrBadSignature):
		return "does not match any secret"
	}
	return err.Error()
}

func roundDur(d time.Duration) time.Duration { return d.Round(time.Second) }

// analyse runs every check on one request whose body has been read.
// tolerance 0 disables the timestamp judgement.
func analyse(req *http.Request, body []byte, secrets []string, now time.Time, tolerance time.Duration) Report {
	r := Report{Method: req.Method, Format: formatOf(req), Tolerance: tolerance, Fresh: true,
		Legacy: Check{Secret: -1}, Standard: Check{Secret: -1}}
	signed := body
	if req.Method == http.MethodGet {
		signed = []byte(req.URL.RawQuery)
	}
	r.Body = signed
	ev, err := webhook.ParseRequest(req, body)
	if err != nil {
		r.ParseErr = err
		r.Format = "template"
	} else {
		r.Event = ev
		r.ID = ev.RandomID
	}
	checkStandard(&r, req.Header, signed, secrets, now)
	if r.Event != nil {
		checkLegacy(&r, legacySignature(r.Format, signed), secrets)
		if r.Standard.Present && req.Header.Get("webhook-id") != "" && req.Header.Get("webhook-id") != r.Event.RandomID {
			r.IDMismatch = true
		}
	}
	if id := req.Header.Get("webhook-id"); id != "" {
		r.ID = id
	}
	return r
}

// checkStandard verifies the webhook-* headers, secret by secret so the
// report can say which one matched. The signature is judged at the request's
// own timestamp; freshness is judged separately against now.
func checkStandard(r *Report, h http.Header, signed []byte, secrets []string, now time.Time) {
	var missing []string
	for _, name := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
		if h.Get(name) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) == 3 {
		r.Standard.Err = fmt.Errorf("no webhook-id/webhook-timestamp/webhook-signature headers: %w", ErrMissing)
		return
	}
	r.Standard.Present = true
	if len(missing) > 0 {
		r.Standard.Err = fmt.Errorf("header %s missing: %w", strings.Join(missing, ", "), ErrMissing)
		return
	}
	ts, err := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	if err != nil {
		r.Standard.Err = fmt.Errorf("webhook-timestamp %q is not Unix seconds: %w", h.Get("webhook-timestamp"), webhook.ErrMalformed)
		return
	}
	r.SentAt = time.Unix(ts, 0)
	r.Age = now.Sub(r.SentAt)
	if r.Tolerance > 0 && (r.Age > r.Tolerance || r.Age < -r.Tolerance) {
		r.Fresh = false
	}
	if len(secrets) == 0 {
		r.Standard.Err = ErrNoSecret
		return
	}
	for i, s := range secrets {
		if webhook.VerifyStandard([]string{s}, h, signed, r.SentAt, webhook.DefaultTolerance) == nil {
			r.Standard.OK, r.Standard.Secret = true, i
			return
		}
	}
	r.Standard.Err = webhook.VerifyStandard(secrets, h, signed, r.SentAt, webhook.DefaultTolerance)
	if r.Standard.Err == nil { // cannot happen: one of the secrets would have matched above
		r.Standard.Err = webhook.ErrBadSignature
	}
}

// checkLegacy verifies webhook_signature against webhook_random_id.
func checkLegacy(r *Report, signature string, secrets []string) {
	if signature == "" {
		r.Legacy.Err = fmt.Errorf("no webhook_signature field: %w", ErrMissing)
		return
	}
	r.Legacy.Present = true
	if len(secrets) == 0 {
		r.Legacy.Err = ErrNoSecret
		return
	}
	for i, s := range secrets {
		if webhook.VerifyLegacy(s, r.Event.RandomID, signature) == nil {
			r.Legacy.OK, r.Legacy.Secret = true, i
			return
		}
	}
	r.Legacy.Err = webhook.VerifyLegacy(secrets[0], r.Event.RandomID, signature)
	if r.Legacy.Err == nil {
		r.Legacy.Err = webhook.ErrBadSignature
	}
}

// legacySignature digs webhook_signature out of a form, query or JSON body.
func legacySignature(format string, signed []byte) string {
	if format == "json" {
		var f struct {
			Signature string `json:"webhook_signature"`
		}
		if json.Unmarshal(signed, &f) != nil {
			return ""
		}
		return f.Signature
	}
	v, err := url.ParseQuery(string(signed))
	if err != nil {
		return ""
	}
	return v.Get("webhook_signature")
}

// formatOf guesses the request's format from its method and content type.
func formatOf(req *http.Request) string {
	if req.Method == http.MethodGet {
		return "get"
	}
	mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		return "json"
	case "application/x-www-form-urlencoded", "":
		return "form"
	}
	return "template"
}
