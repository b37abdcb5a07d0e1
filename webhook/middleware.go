package webhook

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// DuplicateHeader is set to "1" on the answer to a duplicate request.
const DuplicateHeader = "X-Simhook-Duplicate"

// DefaultMaxBodyBytes caps a request body unless Verifier.MaxBodyBytes says
// otherwise: far more than any simhook event.
const DefaultMaxBodyBytes = 1 << 20

// ErrTooLarge means the request body is larger than the Verifier accepts.
var ErrTooLarge = errors.New("webhook: request body too large")

// Verifier is the receiving side: it verifies requests, drops duplicates and
// hands genuine events to a handler. Set its fields before first use and do
// not copy it afterwards; it is then safe for concurrent use.
type Verifier struct {
	// Secrets the sender may sign with, current first (several while
	// rotating): a request signed with any of them passes.
	Secrets []string
	// Tolerance is how far webhook-timestamp may be from Now; 0 means
	// DefaultTolerance.
	Tolerance time.Duration
	// AllowLegacyOnly accepts requests without any Standard Webhooks header
	// when their legacy signature is valid, as RaspiSMS sends them. Such
	// requests are not protected against a changed body or a replay, so the
	// default (false) refuses them. Whenever the headers are present, both
	// schemes must pass.
	AllowLegacyOnly bool
	// Dedupe remembers handled ids; nil means NewLRU(0) (100,000 ids).
	Dedupe DedupeStore
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxBodyBytes caps the body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64

	once  sync.Once
	dedup DedupeStore
	now   func() time.Time

	mu       sync.Mutex
	inFlight map[string]struct{} // ids whose handler is running
}

func (v *Verifier) init() {
	v.once.Do(func() {
		v.inFlight = make(map[string]struct{})
		v.dedup, v.now = v.Dedupe, v.Now
		if v.dedup == nil {
			v.dedup = NewLRU(0)
		}
		if v.now == nil {
			v.now = time.Now
		}
	})
}

// Verify reads and checks one request and returns its event, without
// de-duplicating. The Standard Webhooks headers are checked first (over the
// body, or for GET the raw query string), then the five fields are parsed
// and webhook_signature is checked against every secret, and webhook-id must
// equal webhook_random_id.
//
// A body that is not one of the five-field formats (a template endpoint's)
// is verified on the Standard Webhooks headers alone and returned with Type
// "", RandomID from webhook-id and Body the raw body.
//
// Errors wrap ErrTooLarge, ErrMalformed, ErrNoSignature, ErrBadSignature,
// ErrTimestampTooOld or ErrTimestampTooNew.
func (v *Verifier) Verify(r *http.Request) (*Event, error) {
	v.init()
	limit := v.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil {
			return nil, fmt.Errorf("webhook: reading the body: %v: %w", err, ErrMalformed)
		}
		if int64(len(body)) > limit {
			return nil, fmt.Errorf("webhook: body over %d bytes: %w", limit, ErrTooLarge)
		}
	}
	return v.verify(r, body)
}

// verify checks a request whose body has been read.
func (v *Verifier) verify(r *http.Request, body []byte) (*Event, error) {
	signed := body
	if r.Method == http.MethodGet {
		signed = []byte(r.URL.RawQuery)
	}
	noHeaders := r.Header.Get(HeaderID) == "" && r.Header.Get(HeaderTimestamp) == "" && r.Header.Get(HeaderSignature) == ""
	stdErr := VerifyStandard(v.Secrets, r.Header, signed, v.now(), v.Tolerance)
	if stdErr != nil && !(noHeaders && v.AllowLegacyOnly) {
		if errors.Is(stdErr, ErrNoSignature) && !noHeaders {
			// Some headers but not all: a broken sender, not a forgery.
			return nil, fmt.Errorf("%w (%w)", stdErr, ErrMalformed)
		}
		if noHeaders {
			return nil, fmt.Errorf("%w; legacy-only requests are not accepted", stdErr)
		}
		return nil, stdErr
	}
	ev, err := ParseRequest(r, body)
	if err != nil {
		if stdErr == nil {
			// A template body: the headers are all there is to check.
			return &Event{RandomID: r.Header.Get(HeaderID), Body: body}, nil
		}
		return nil, err
	}
	if ev.Signature == "" {
		return nil, fmt.Errorf("webhook: no webhook_signature field: %w", ErrNoSignature)
	}
	if !v.legacyOK(ev) {
		return nil, fmt.Errorf("webhook: webhook_signature matches none of the secrets: %w", ErrBadSignature)
	}
	if stdErr == nil && r.Header.Get(HeaderID) != ev.RandomID {
		return nil, fmt.Errorf("webhook: webhook-id %q differs from webhook_random_id %q: %w",
			clip(r.Header.Get(HeaderID), 80), clip(ev.RandomID, 80), ErrMalformed)
	}
	return ev, nil
}

// legacyOK checks webhook_signature against every secret.
func (v *Verifier) legacyOK(ev *Event) bool {
	for _, s := range v.Secrets {
		if VerifyLegacy(s, ev.RandomID, ev.Signature) == nil {
			return true
		}
	}
	return false
}

// StatusOf maps a verification error to the HTTP status the Middleware
// answers: 413 for ErrTooLarge, 400 for ErrMalformed, 401 otherwise.
func StatusOf(err error) int {
	switch {
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrMalformed):
		return http.StatusBadRequest
	}
	return http.StatusUnauthorized
}

// Middleware verifies each request, answers bad ones itself and hands
// genuine, new events to next, which writes the answer:
//
//   - 400 for a malformed request, 401 for a missing or wrong signature or a
//     timestamp outside the tolerance, 413 for a body over MaxBodyBytes, each
//     with the reason as a plain-text body;
//   - 200 with the header X-Simhook-Duplicate: 1 for an id already handled,
//     without calling next. simhook delivers at least once and keeps the id
//     on every retry; answering 200 tells it to stop retrying, which is what
//     a receiver that already has the event wants;
//   - 503 with Retry-After: 1 for an id whose handler is still running (a
//     retry that overtook a slow first attempt), without calling next: the
//     first attempt may yet fail, so the sender must try again rather than
//     be told the event is handled.
//
// An id counts as handled once next answers 2xx (or writes nothing), and
// only then is it recorded in the DedupeStore if the store is a Peeker (the
// default LRU is). When next answers anything else, or panics, the id is
// released, so the sender's retry is handled rather than dropped as a
// duplicate; a store that is not a Peeker records the id before next runs
// and can release it only if it is a Forgetter.
//
// Requests in flight are tracked by this Verifier alone: receivers that run
// several processes over one shared store need their own claim on the id.
func (v *Verifier) Middleware(next func(w http.ResponseWriter, r *http.Request, ev *Event)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := v.Verify(r)
		if err != nil {
			http.Error(w, err.Error(), StatusOf(err))
			return
		}
		id := ev.RandomID
		if id == "" {
			next(w, r, ev)
			return
		}
		switch v.claim(id) {
		case claimBusy:
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "in progress: "+id+" is being handled; retry later\n")
			return
		case claimDone:
			w.Header().Set(DuplicateHeader, "1")
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "duplicate: "+id+" was already handled\n")
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		ok := false
		defer func() { v.release(id, ok && sw.status < 300) }()
		next(sw, r, ev)
		ok = true
	})
}

// Results of Verifier.claim.
const (
	claimNew  = iota // the caller handles the id and must release it
	claimBusy        // another request is handling the id
	claimDone        // the id was handled already
)

// claim marks id as in flight, unless it already is or was handled. The
// store is asked outside the lock, as it may be slow (a database): the
// in-flight mark already keeps other requests for id away.
func (v *Verifier) claim(id string) int {
	v.mu.Lock()
	if _, busy := v.inFlight[id]; busy {
		v.mu.Unlock()
		return claimBusy
	}
	v.inFlight[id] = struct{}{}
	v.mu.Unlock()
	var done bool
	if p, can := v.dedup.(Peeker); can {
		done = p.Peek(id)
	} else {
		done = v.dedup.Seen(id) // recorded now; released by release if need be
	}
	if done {
		v.mu.Lock()
		delete(v.inFlight, id)
		v.mu.Unlock()
		return claimDone
	}
	return claimNew
}

// release ends the handling of a claimed id: handled records it, otherwise
// it is left free for a retry. The store is updated before the in-flight
// mark goes, so that a retry in between is never handled twice.
func (v *Verifier) release(id string, handled bool) {
	_, peeker := v.dedup.(Peeker)
	switch {
	case handled && peeker:
		v.dedup.Seen(id)
	case !handled && !peeker:
		if f, can := v.dedup.(Forgetter); can {
			f.Forget(id)
		}
	}
	v.mu.Lock()
	delete(v.inFlight, id)
	v.mu.Unlock()
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
