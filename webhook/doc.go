// Package webhook is simhook's wire format: how an event becomes an HTTP
// request, how that request is signed, and how a receiver verifies it. It uses
// only the standard library, so receivers can import it cheaply.
//
// # The request
//
// By default an event is a form POST with five fields, exactly as RaspiSMS
// sends them: webhook_timestamp (when the event happened), webhook_random_id
// (made once per event and endpoint, kept on every retry: receivers
// de-duplicate on it), webhook_signature, webhook_type, and body (the event
// as a JSON string). An endpoint can instead ask for GET (the same fields in
// the query string), a JSON object (body as an object) or a text/template
// that renders the whole body, plus extra fields and headers.
//
// # Two signatures
//
// webhook_signature is the hex HMAC-SHA256 of webhook_random_id keyed with
// the secret: what existing RaspiSMS receivers check. It covers only the id,
// so whoever saw one request could reuse its signature with another body.
// Every request therefore also carries the Standard Webhooks headers:
// webhook-id (the random id), webhook-timestamp (the time of this attempt)
// and webhook-signature, "v1," and the base64 HMAC-SHA256 of
// "id.timestamp.body" over the exact bytes sent (for GET, the raw query
// string). During a secret rotation the header holds one signature per
// secret. A secret beginning with "whsec_" is base64 for the Standard
// Webhooks key; the legacy signature always uses the secret string as is.
//
// # Receiving
//
// A Go receiver needs a Verifier and a handler:
//
//	v := &webhook.Verifier{Secrets: []string{os.Getenv("SIMHOOK_SECRET")}}
//	http.Handle("/sms", v.Middleware(func(w http.ResponseWriter, r *http.Request, ev *webhook.Event) {
//		switch ev.Type {
//		case webhook.ReceiveSMS:
//			log.Printf("SMS from %s: %s", ev.ReceiveSMS.Origin, ev.ReceiveSMS.Text)
//		case webhook.SendSMSStatusChange:
//			log.Printf("SMS %d is now %s", ev.StatusChange.ID, ev.StatusChange.Status)
//		}
//		w.WriteHeader(http.StatusNoContent)
//	}))
//	log.Fatal(http.ListenAndServe("127.0.0.1:8080", nil))
//
// The middleware answers 400 for a malformed request, 401 for a bad or
// missing signature or a timestamp more than Tolerance (default five minutes)
// from the receiver's clock, and 413 for a body over MaxBodyBytes, with the
// reason in the body. A request whose id was already handled is answered 200
// with the header X-Simhook-Duplicate: 1 and not handed on: simhook delivers
// at least once and keeps the id on every retry, so a retry of a delivered
// request is normal, and 200 tells the gateway to stop. An id counts as
// handled only once the handler has answered 2xx: a retry that arrives while
// the handler still runs is answered 503 with Retry-After: 1, and when the
// handler answers other than 2xx the id is released, so the retry is handled.
// Requests without the Standard Webhooks headers (RaspiSMS's own) are refused
// unless AllowLegacyOnly is set; when the headers are present both schemes
// must pass. Ordering is not guaranteed: order by the event's own fields.
//
// A template endpoint's body is not the five fields: the middleware verifies
// it on the headers alone and hands an Event with Type "" and the raw Body.
//
// VerifyLegacy and VerifyStandard check one scheme each, and ParseRequest
// reads a form, GET or JSON request, for receivers with their own plumbing.
// Errors wrap the sentinel errors (ErrBadSignature, ErrTimestampTooOld, ...)
// for errors.Is.
//
// # Sending
//
// The agent turns each configured Endpoint into an Encoder once (NewEncoder
// validates it and parses its template), draws a random id per event and
// endpoint with NewRandomID, and calls Encoder.NewRequest for every attempt
// with the attempt's time. Templates see a TemplateData; the json and
// jsonEscape functions keep a JSON body valid whatever the SMS text holds.
package webhook
