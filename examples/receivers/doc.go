// Package receivers runs the example webhook receivers of this directory as
// real processes, so tests can send them signed requests and read what they
// decided.
//
// The receivers themselves are small stand-alone programs meant to be copied
// by people who receive simhook's webhooks: python/receiver.py (Python 3
// standard library), node/receiver.js (Node.js, no dependencies),
// php/index.php (plain PHP 8, served by php -S) and go/main.go (Go, using the
// webhook package). Each checks both signatures (the legacy
// webhook_signature and the Standard Webhooks webhook-signature header with a
// five-minute clock tolerance), remembers the webhook ids it has handled, and
// prints one verdict line per request on its standard output:
//
//	VERDICT accept <type> <id>        handled; answered 200
//	VERDICT duplicate <type> <id>     genuine but already handled; answered 200, not handled again
//	VERDICT busy <type> <id>          being handled by another request; answered 503, Retry-After: 1
//	VERDICT error <type> <id>         the handler failed; answered 500, the id released for a retry
//	VERDICT reject <reason> <id|->    refused; answered 4xx
//
// This package starts one of them (Start), waits until it listens, and hands
// back its URL and the verdicts it prints (Process.Next). Where the requests
// come from is up to the caller: the tests here build them with the webhook
// package's Encoder; an end-to-end test can point the real agent at
// Process.URL instead.
package receivers
