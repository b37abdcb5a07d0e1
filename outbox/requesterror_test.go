package outbox

import (
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// TestRequestErrorIsNotAnAnswer: a request that cannot even be built (a
// template that fails to render, or renders more than max_body, after a
// reload) is a client-side error of that delivery, counted and logged with
// the endpoint's name. It is no answer from the endpoint: it must not end the
// offline state and drain the backlog while the network is still down.
func TestRequestErrorIsNotAnAnswer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		template string
		maxBody  int
		want     string // in the log
	}{
		{"render error", `{{index 1 2}}`, 0, "index"},
		{"over max_body", `{{range 100}}{{$.BodyJSON}}{{end}}`, 64, "max_body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := l.Addr().String()
			l.Close() // connection refused from now on

			var logs lockedBuffer
			o := open(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), ProbeInterval: 20 * time.Millisecond})
			ep := Endpoint{Timeout: 2 * time.Second, Retry: RetryPolicy{Initial: 10 * time.Millisecond, MaxInterval: 20 * time.Millisecond, MaxAge: time.Hour, ClientErrorAttempts: 3}}
			ep.Name, ep.URL, ep.Secrets = "chat", "http://"+addr+"/hook", []string{testSecret}
			ep.Format, ep.Template = "template", `{"text":{{json .Body.text}}}`
			if err := o.SetEndpoints([]Endpoint{ep}); err != nil {
				t.Fatal(err)
			}
			run(t, o)
			enqueueN(t, o, 0, 1)
			waitFor(t, 10*time.Second, "the outbox to go offline", func() bool { return o.Metrics().Offline })

			ep.Template, ep.MaxBody = tt.template, tt.maxBody
			if err := o.SetEndpoints([]Endpoint{ep}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "a request error", func() bool { return o.Metrics().Deliveries["chat"][OutcomeClientError] > 0 })
			out := logs.String()
			if strings.Contains(out, "network back") {
				t.Errorf("a request that was never sent ended the offline state:\n%s", out)
			}
			if !strings.Contains(out, "endpoint=chat") || !strings.Contains(out, tt.want) {
				t.Errorf("the request error is not logged with the endpoint and %q:\n%s", tt.want, out)
			}
			// The delivery is dead-lettered after ClientErrorAttempts, as
			// for any client error; none of its tries sent a request.
			sent := o.Metrics().Attempts
			waitFor(t, 10*time.Second, "the dead letter", func() bool { return o.Metrics().Deliveries["chat"][OutcomeDead] == 1 })
			if m := o.Metrics(); m.Attempts != sent || !m.Offline {
				t.Errorf("after the request errors: %d attempts (want %d), offline %v (want true)", m.Attempts, sent, m.Offline)
			}
		})
	}
}
