// Command go-receiver is a minimal receiver for simhook webhooks, written with
// the webhook package (standard library only).
//
// Run:  SIMHOOK_SECRET=... go run . [PORT]   (PORT also from $PORT, default 8080)
//
// Every request is checked twice: the legacy RaspiSMS field webhook_signature
// (HMAC-SHA256 of webhook_random_id) and the Standard Webhooks header
// webhook-signature (HMAC-SHA256 over id.timestamp.raw-body, 5 minutes of
// clock tolerance). A webhook-id handled before is acknowledged with 200 but
// not handled again. An id counts as handled only once handleEvent returned
// nil: a retry that arrives while the first attempt is still being handled
// gets 503 with Retry-After (the first attempt may yet fail), and when
// handleEvent fails, the id is released and the answer is 500, so the
// gateway's next retry is handled. One line per request goes to stdout:
//
//	VERDICT accept <type> <id>
//	VERDICT duplicate <type> <id>
//	VERDICT busy <type> <id>
//	VERDICT error <type> <id>
//	VERDICT reject <reason> <id or ->
//
// The steps are spelt out here to show them; in a Go service of your own,
// webhook.Verifier's Middleware does the same in one line.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/simhook/simhook/webhook"
)

const maxBodyBytes = 1 << 20

// rejection is a request that must not be handled: a reason for the log, a
// status for the sender.
type rejection struct {
	reason string
	status int
}

func (r *rejection) Error() string { return r.reason }

func reject(reason string, status int) error { return &rejection{reason, status} }

type receiver struct {
	secret   string
	mu       sync.Mutex
	seen     map[string]bool // handled; grows forever: use a store with expiry in production
	inFlight map[string]bool // being handled right now
}

// Results of receiver.claim.
const (
	claimed   = iota // new: handle it, then call release
	busy             // another request is handling it
	duplicate        // handled already
)

// handle runs handleEvent on a claimed event and releases the claim, also
// when the handler panics (net/http recovers the panic; an id left claimed
// would answer every retry "busy" until it expires).
func (rc *receiver) handle(ev *webhook.Event) (err error) {
	ok := false
	defer func() { rc.release(ev.RandomID, ok) }()
	err = handleEvent(ev)
	ok = err == nil
	return err
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	verdict, status := "", http.StatusOK
	ev, err := rc.check(r)
	var rej *rejection
	switch {
	case errors.As(err, &rej):
		verdict, status = "reject "+rej.reason, rej.status
	case err != nil:
		verdict, status = "reject malformed", http.StatusBadRequest
	default:
		switch rc.claim(ev.RandomID) {
		case busy:
			// A retry overtook the first attempt, which may still fail.
			verdict, status = "busy "+string(ev.Type), http.StatusServiceUnavailable
			w.Header().Set("Retry-After", "1")
		case duplicate:
			verdict = "duplicate " + string(ev.Type)
		default:
			err := rc.handle(ev)
			if err != nil {
				log.Printf("handling %s: %v", ev.RandomID, err)
				verdict, status = "error "+string(ev.Type), http.StatusInternalServerError
			} else {
				verdict = "accept " + string(ev.Type)
			}
		}
	}
	id := r.Header.Get("webhook-id")
	if id == "" {
		id = "-"
	}
	fmt.Printf("VERDICT %s %s\n", verdict, id)
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(status)
	fmt.Fprintln(w, verdict)
}

// check verifies both signatures and returns the parsed event.
func (rc *receiver) check(r *http.Request) (*webhook.Event, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	if err != nil {
		return nil, reject("too-large", http.StatusRequestEntityTooLarge)
	}
	ev, err := webhook.ParseRequest(r, body)
	if err != nil {
		return nil, reject("malformed", http.StatusBadRequest)
	}
	// What was signed: the raw body, or for GET the raw query string.
	signed := body
	if r.Method == http.MethodGet {
		signed = []byte(r.URL.RawQuery)
	}
	err = webhook.VerifyStandard([]string{rc.secret}, r.Header, signed, time.Now(), webhook.DefaultTolerance)
	switch {
	case errors.Is(err, webhook.ErrNoSignature):
		return nil, reject("no-standard-headers", http.StatusUnauthorized)
	case errors.Is(err, webhook.ErrTimestampTooOld), errors.Is(err, webhook.ErrTimestampTooNew):
		return nil, reject("timestamp", http.StatusUnauthorized)
	case errors.Is(err, webhook.ErrBadSignature):
		return nil, reject("standard-signature", http.StatusUnauthorized)
	case err != nil:
		return nil, reject("malformed", http.StatusBadRequest)
	}
	if webhook.VerifyLegacy(rc.secret, ev.RandomID, legacySignature(r, body)) != nil {
		return nil, reject("legacy-signature", http.StatusUnauthorized)
	}
	if ev.RandomID != r.Header.Get("webhook-id") {
		return nil, reject("id-mismatch", http.StatusBadRequest)
	}
	return ev, nil
}

// legacySignature reads the webhook_signature field of any of the three formats.
func legacySignature(r *http.Request, body []byte) string {
	if r.Method == http.MethodGet {
		return r.URL.Query().Get("webhook_signature")
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var fields struct {
			Signature string `json:"webhook_signature"`
		}
		_ = json.Unmarshal(body, &fields)
		return fields.Signature
	}
	fields, _ := url.ParseQuery(string(body))
	return fields.Get("webhook_signature")
}

// claim marks id as being handled, unless it is already or was handled.
func (rc *receiver) claim(id string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	switch {
	case rc.inFlight[id]:
		return busy
	case rc.seen[id]:
		return duplicate
	}
	rc.inFlight[id] = true
	return claimed
}

// release ends the handling of a claimed id. Only a handled id is seen:
// otherwise the gateway's retry is handled.
func (rc *receiver) release(id string, handled bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	delete(rc.inFlight, id)
	if handled {
		rc.seen[id] = true
	}
}

// handleEvent is where your own code goes: store the SMS, page someone, ...
// An error answers 500, so that the gateway retries. (It is a variable so
// that the tests can swap in their own.)
var handleEvent = func(ev *webhook.Event) error { _ = ev; return nil }

func main() {
	secret := os.Getenv("SIMHOOK_SECRET")
	if secret == "" {
		log.Fatal("SIMHOOK_SECRET is not set")
	}
	port := os.Getenv("PORT")
	if len(os.Args) > 1 {
		port = os.Args[1]
	}
	if port == "" {
		port = "8080"
	}
	host := os.Getenv("HOST")
	if host == "" {
		host = "127.0.0.1"
	}
	srv := &http.Server{
		Addr:              net.JoinHostPort(host, port),
		Handler:           &receiver{secret: secret, seen: map[string]bool{}, inFlight: map[string]bool{}},
		ReadHeaderTimeout: 10 * time.Second,
	}
	log.Fatal(srv.ListenAndServe())
}
