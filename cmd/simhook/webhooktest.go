package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/internal/redact"
	"github.com/simhook/simhook/outbox"
	"github.com/simhook/simhook/webhook"
)

// webhookCmd is `simhook webhook test`.
func webhookCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("webhook", "test [--config FILE] [--endpoint NAME] [--type TYPE]", "Send sample events to the configured endpoints (or one) and show their answers.")
	path := fs.String("config", DefaultConfigPath, "configuration `file`")
	only := fs.String("endpoint", "", "test only the endpoint with this `name`")
	typ := fs.String("type", "", "send only this event `type`")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	switch {
	case fs.NArg() == 0:
		return usageError(fs, stderr, "missing command")
	case fs.Arg(0) != "test":
		return usageError(fs, stderr, "unknown command %q", fs.Arg(0))
	case fs.NArg() > 1:
		return usageError(fs, stderr, "unexpected argument %q", fs.Arg(1))
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	types := webhook.Types()
	if *typ != "" {
		if !webhook.Type(*typ).Valid() {
			return fmt.Errorf("unknown event type %q", *typ)
		}
		types = []webhook.Type{webhook.Type(*typ)}
	}
	var eps []outbox.Endpoint
	for _, ep := range agent.Endpoints(cfg) {
		if *only == "" || ep.Name == *only {
			eps = append(eps, ep)
		}
	}
	if len(eps) == 0 {
		return fmt.Errorf("no endpoint named %q in %s", *only, *path)
	}
	client := outbox.NewHTTPClient() // the daemon's: no redirects followed
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "endpoint\ttype\tanswer\toutcome\ttime")
	failed := 0
	for _, ep := range eps {
		for _, t := range types {
			if *typ == "" && len(ep.Events) > 0 && !slices.Contains(ep.Events, t) {
				continue // the endpoint does not subscribe to it
			}
			res := testDelivery(ctx, client, ep, t, cfg.Location())
			if res.class != outbox.OutcomeDelivered {
				failed++
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ep.Name, t, res.answer, outcomeText(res.class), res.took.Round(time.Millisecond))
		}
	}
	tw.Flush()
	if failed > 0 {
		fmt.Fprintf(stderr, "%d test deliveries were not accepted\n", failed)
		return exitCode(1)
	}
	return nil
}

// testResult is what one test delivery did.
type testResult struct {
	answer string // HTTP status, or the transport error
	class  string // the outbox's outcome class, "" when nothing was sent
	took   time.Duration
}

// testDelivery sends one sample event to ep exactly as the dispatcher
// would (same encoder, signatures, timeout and HTTP client, which follows
// no redirect) and classifies the answer the way the dispatcher does.
func testDelivery(ctx context.Context, client *http.Client, ep outbox.Endpoint, t webhook.Type, loc *time.Location) testResult {
	enc, err := webhook.NewEncoder(ep.Endpoint)
	if err != nil {
		return testResult{answer: "invalid endpoint: " + err.Error()}
	}
	now := time.Now()
	id, err := webhook.NewRandomID(now.Unix())
	if err != nil {
		return testResult{answer: err.Error()}
	}
	body, err := json.Marshal(sampleBody(t, now, loc))
	if err != nil {
		return testResult{answer: err.Error()}
	}
	timeout := ep.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	reqCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := enc.NewRequest(reqCtx, webhook.Message{Type: t, Timestamp: now.Unix(), RandomID: id, Body: body}, now)
	if err != nil {
		// The dispatcher counts a request it cannot build as a client error.
		return testResult{answer: redact.String(err.Error()), class: outbox.OutcomeClientError}
	}
	req.Header.Set("X-Simhook-Test", "1")
	start := time.Now()
	resp, err := client.Do(req)
	took := time.Since(start)
	if err != nil {
		var answer string
		if errors.Is(err, context.DeadlineExceeded) {
			answer = "timeout after " + timeout.String()
		} else {
			answer = redact.String(err.Error()) // it quotes the URL
		}
		class := outbox.ClassifyAnswer(0, err)
		return testResult{answer: answer, class: class, took: took}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	answer := resp.Status
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		answer += " (redirect not followed)"
	}
	class := outbox.ClassifyAnswer(resp.StatusCode, nil)
	return testResult{answer: answer, class: class, took: took}
}

// outcomeText says what the daemon does with an answer of the outbox's
// outcome class (SPEC §3), or "not sent" for no class.
func outcomeText(class string) string {
	switch class {
	case "":
		return "not sent"
	case outbox.OutcomeDelivered:
		return "delivered"
	case outbox.OutcomeDisabled:
		return "endpoint disabled (410 Gone)"
	case outbox.OutcomeRetry:
		return "retry (backed off)"
	case outbox.OutcomeNetwork:
		return "retry (no answer)"
	case outbox.OutcomeClientError:
		return "client error: retried a few times, then dead-lettered"
	}
	return class
}

// sampleBody is a plausible body of each event type, marked as a test by
// its text and tag.
func sampleBody(t webhook.Type, now time.Time, loc *time.Location) any {
	at := webhook.FormatDate(now, loc)
	switch t {
	case webhook.ReceiveSMS:
		return webhook.ReceiveSMSBody{ID: 0, At: at, Text: "simhook test: hello 👋", Destination: 1, Origin: "+33612345678", Medias: []string{}}
	case webhook.SendSMS:
		return webhook.SendSMSBody{ID: 0, At: at, Status: "unknown", Text: "simhook test: outgoing", Destination: "+33612345678", Origin: 1, Medias: []string{}, Tag: "simhook-test"}
	case webhook.SendSMSStatusChange:
		return webhook.StatusChangeBody{ID: 0, Status: "delivered"}
	case webhook.InboundCall:
		origin := "+33612345678"
		return webhook.InboundCallBody{ID: 0, IDUser: 1, IDPhone: 1, UID: "simhook-test", Start: at, End: nil, Direction: "inbound", Origin: &origin}
	default:
		return webhook.PhoneReliabilityBody{ReliabilityType: "failed", IDPhone: 1, Period: 120, Total: 25, Unreliable: "5", Rate: "0.2000"}
	}
}
