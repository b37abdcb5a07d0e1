package receiver

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/simhook/simhook/webhook"
)

// Defaults for the zero values of Options.
const (
	DefaultMaxBodyBytes = 1 << 20 // 1 MiB, far more than any simhook event
	DefaultRememberIDs  = 100_000 // ids remembered for de-duplication
	DefaultKeepVerdicts = 1_000   // verdicts kept for Verdicts
)

// DuplicateHeader is set to "1" on the answer to a duplicate request.
const DuplicateHeader = "X-Simhook-Duplicate"

// Options configures a Receiver. The zero value of each field is usable.
type Options struct {
	// Secrets are the endpoint's secrets, current first; a signature made with
	// any of them is accepted (several while rotating).
	Secrets []string
	// Tolerance is how far webhook-timestamp may be from Now; 0 means
	// webhook.DefaultTolerance (5 minutes).
	Tolerance time.Duration
	// AllowLegacyOnly accepts requests without Standard Webhooks headers
	// (as RaspiSMS sends them) when their legacy signature is valid.
	AllowLegacyOnly bool
	// Out receives each verdict printed for a person; nil prints nothing.
	Out io.Writer
	// Color adds terminal colours to what goes to Out.
	Color bool
	// JSONL receives each verdict as one JSON object per line; nil writes none.
	JSONL io.Writer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger gets one record per verdict; nil means slog.Default().
	Logger *slog.Logger
	// OnEvent, if set, is called with every verdict, from the goroutine
	// serving the request, after it is recorded and before the answer is
	// sent. It must not block for long.
	OnEvent func(Verdict)
	// MaxBodyBytes caps the request body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// RememberIDs caps how many webhook ids are kept for de-duplication
	// (oldest forgotten first); 0 means DefaultRememberIDs.
	RememberIDs int
	// KeepVerdicts caps how many recent verdicts Verdicts returns; 0 means
	// DefaultKeepVerdicts.
	KeepVerdicts int
}

// Receiver verifies, de-duplicates and reports simhook webhook requests. It
// is an http.Handler, safe for concurrent use.
type Receiver struct {
	opts Options
	log  *slog.Logger
	seen *idSet

	mu       sync.Mutex // guards verdicts and serialises writes to Out and JSONL
	verdicts []Verdict

	accepted, duplicates, rejected, writeErrors atomic.Int64
}

// New returns a Receiver configured by o.
func New(o Options) *Receiver {
	if o.Tolerance <= 0 {
		o.Tolerance = webhook.DefaultTolerance
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.RememberIDs <= 0 {
		o.RememberIDs = DefaultRememberIDs
	}
	if o.KeepVerdicts <= 0 {
		o.KeepVerdicts = DefaultKeepVerdicts
	}
	o.Secrets = append([]string(nil), o.Secrets...)
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Receiver{opts: o, log: log, seen: newIDSet(o.RememberIDs)}
}

// ServeHTTP judges one request, records the verdict and answers: 200 when
// accepted, 200 with DuplicateHeader for a duplicate, 400 for a malformed
// request, 401 for a bad or missing signature or a stale timestamp, 413 for a
// body over MaxBodyBytes. The answer's body is the verdict in words.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	now := r.opts.Now()
	v := Verdict{At: now, RemoteAddr: req.RemoteAddr}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.opts.MaxBodyBytes))
	if err != nil {
		v.Report = Report{Method: req.Method, Format: formatOf(req), ID: req.Header.Get("webhook-id")}
		v.Outcome, v.Status = Rejected, http.StatusBadRequest
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			v.Status = http.StatusRequestEntityTooLarge
			v.Reasons = []string{fmt.Sprintf("body larger than %d bytes", r.opts.MaxBodyBytes)}
		} else {
			v.Reasons = []string{"reading the body: " + err.Error()}
		}
	} else {
		v.Report = analyse(req, body, r.opts.Secrets, now, r.opts.Tolerance)
		r.decide(&v)
	}
	r.record(v)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if v.Outcome == Duplicate {
		w.Header().Set(DuplicateHeader, "1")
	}
	w.WriteHeader(v.Status)
	_, _ = io.WriteString(w, v.answer())
}

// decide turns a report into an outcome and a status code.
func (r *Receiver) decide(v *Verdict) {
	if problems := v.Problems(r.opts.AllowLegacyOnly); len(problems) > 0 {
		v.Outcome, v.Reasons, v.Status = Rejected, problems, http.StatusUnauthorized
		if v.Malformed() {
			v.Status = http.StatusBadRequest
		}
		return
	}
	v.Outcome, v.Status = Accepted, http.StatusOK
	if v.ID != "" && !r.seen.add(v.ID) {
		v.Outcome = Duplicate
	}
}

// record counts, keeps, logs, prints and hands on one verdict.
func (r *Receiver) record(v Verdict) {
	switch v.Outcome {
	case Accepted:
		r.accepted.Add(1)
	case Duplicate:
		r.duplicates.Add(1)
	default:
		r.rejected.Add(1)
	}
	r.logVerdict(v)
	r.mu.Lock()
	if len(r.verdicts) >= r.opts.KeepVerdicts {
		r.verdicts = append(r.verdicts[:0], r.verdicts[len(r.verdicts)-r.opts.KeepVerdicts+1:]...)
	}
	r.verdicts = append(r.verdicts, v)
	if r.opts.Out != nil {
		if _, err := io.WriteString(r.opts.Out, v.Pretty(r.opts.Color)); err != nil {
			r.writeFailed("output", err)
		}
	}
	if r.opts.JSONL != nil {
		if err := writeJSONL(r.opts.JSONL, v); err != nil {
			r.writeFailed("jsonl", err)
		}
	}
	r.mu.Unlock()
	if r.opts.OnEvent != nil {
		r.opts.OnEvent(v)
	}
}

func (r *Receiver) writeFailed(what string, err error) {
	r.writeErrors.Add(1)
	r.log.Warn("receiver: writing a verdict failed", "to", what, "err", err)
}

func (r *Receiver) logVerdict(v Verdict) {
	attrs := []any{"outcome", v.Outcome, "status", v.Status, "type", v.Type(), "webhook_id", v.ID,
		"format", v.Format, "remote", v.RemoteAddr}
	if v.Outcome == Rejected {
		r.log.Warn("webhook rejected", append(attrs, "reasons", v.Reasons)...)
		return
	}
	r.log.Info("webhook "+string(v.Outcome), attrs...)
}

// Verdicts returns the most recent verdicts (up to Options.KeepVerdicts), oldest first.
func (r *Receiver) Verdicts() []Verdict {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Verdict(nil), r.verdicts...)
}

// Stats returns the counters since New.
func (r *Receiver) Stats() Stats {
	return Stats{
		Accepted:    r.accepted.Load(),
		Duplicates:  r.duplicates.Load(),
		Rejected:    r.rejected.Load(),
		WriteErrors: r.writeErrors.Load(),
	}
}
