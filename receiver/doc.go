// Package receiver is a verifying webhook receiver for people: the engine
// behind `simhook receive`, `simhook verify` and the verified-event printout
// of `simhook demo`.
//
// simhook signs every webhook twice (see docs/RECEIVING.md and package
// webhook): the legacy RaspiSMS field webhook_signature, an HMAC of the
// request's random id only, and the Standard Webhooks header
// webhook-signature, an HMAC over the id, the attempt's time and the exact
// bytes sent. A production receiver just needs a yes or no; someone setting
// up a gateway needs to know which check failed and why. This package gives
// the details.
//
// A Receiver is an http.Handler. For each request it checks both schemes
// against every configured secret (several while a secret is being rotated),
// checks the attempt's clock against a tolerance, de-duplicates on the
// webhook id, answers the status code simhook's dispatcher understands (2xx
// accepted or duplicate, 400 malformed, 401 bad signature or stale, 413 too
// large), and reports a Verdict: printed readably to Options.Out, appended as
// one JSON line to Options.JSONL, kept for Verdicts, counted in Stats and
// handed to Options.OnEvent.
//
// VerifyCaptured does the same checks on one request that was captured
// earlier: the raw HTTP request bytes as `nc -l` prints them, or only the
// form fields. It has no clock tolerance by default because captured
// requests are usually old; it still tells how old.
//
//	rcv := receiver.New(receiver.Options{Secrets: []string{"s3cret"}, Out: os.Stdout})
//	log.Fatal(http.ListenAndServe("127.0.0.1:8080", rcv))
package receiver
