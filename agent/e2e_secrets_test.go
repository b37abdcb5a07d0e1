package agent_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem/modemsim"
	"github.com/simhook/simhook/webhook"
)

// TestSecretsNeverLogged runs receiving, sending, a refusing endpoint that
// echoes every request back in its error answer, and a secret rotation
// with the agent logging at debug level, then searches the log for every
// secret the configuration held. A secret in a log line, or in a request
// the agent sent, fails the test. An unreachable endpoint whose URL carries
// a token in its query fails too: the token must appear neither in the log
// nor in its last_error as the API lists it.
func TestSecretsNeverLogged(t *testing.T) {
	t.Parallel()
	const (
		labSecret     = "lab-secret-5f0c2a9e71d4"
		rotatedSecret = "rotated-secret-8b3e6d10c2f7"
		echoSecret    = "echo-secret-41a7c9e2b058"
		pin           = "4711"
		urlToken      = "url-token-SECRET-7c1e9a"
	)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "refused: %v %s", r.Header, body)
	}))
	defer echo.Close()
	var logs lab.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l := startLab(t, lab.Options{
		Secret:          labSecret,
		ReceiverSecrets: []string{"", rotatedSecret},
		PhoneYAML:       "pin: \"" + pin + "\"",
		Endpoints: []lab.Endpoint{
			{Name: "echo", URL: echo.URL, Secret: echoSecret},
			{Name: "leaky", URL: "http://127.0.0.1:1/hook?token=" + urlToken, Secret: "leaky-secret"},
		},
		Agent: agent.Options{Logger: log},
	})
	watchLab(t, l)
	ctx := testContext(t, 60*time.Second)
	if _, err := l.Modems[0].InjectSMS(modemsim.SMS{From: "+33612345678", Text: "before the rotation"}); err != nil {
		t.Fatal(err)
	}
	if _, err := mustAgent(t, l).Submit(ctx, agent.SendRequest{To: "+33698765432", Text: "a send"}); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitEvents(ctx, webhook.SendSMSStatusChange, 1); err != nil {
		t.Fatal(err)
	}
	rotated := strings.Replace(l.ConfigYAML(), fmt.Sprintf("secret: %q", labSecret), fmt.Sprintf("secret: %q", rotatedSecret), 1)
	if err := l.WriteConfig(rotated); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the reload", func() bool { return mustAgent(t, l).Counter("config_reloads") == 1 })
	if _, err := l.Modems[0].InjectSMS(modemsim.SMS{From: "+33612345678", Text: "after the rotation"}); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitEvents(ctx, webhook.ReceiveSMS, 2); err != nil {
		t.Fatal(err)
	}
	c := socketClient(l.SocketPath())
	var deliveries string
	waitUntil(t, 30*time.Second, "a failure of the leaky endpoint, listed and logged", func() bool {
		_, deliveries = call(t, c, "GET", "/v1/outbox/deliveries?endpoint=leaky", "")
		return strings.Contains(deliveries, "last_error") && strings.Contains(logs.String(), "endpoint=leaky")
	})
	if !strings.Contains(deliveries, "127.0.0.1:1") {
		t.Errorf("last_error no longer says where the request went: %s", deliveries)
	}
	if i := strings.Index(deliveries, urlToken); i >= 0 {
		t.Errorf("the deliveries show the URL's token: …%s…", deliveries[max(0, i-200):min(len(deliveries), i+100)])
	}
	time.Sleep(500 * time.Millisecond) // let the echo endpoint's refusals be logged
	out := logs.String()
	if !strings.Contains(out, "echo") || !strings.Contains(out, "401") {
		t.Fatalf("the refusing endpoint's answers were not logged, so the test proves nothing:\n%s", out)
	}
	for name, s := range map[string]string{"endpoint secret": labSecret, "rotated secret": rotatedSecret, "second endpoint's secret": echoSecret, "PIN": "pin=" + pin, "URL's token": urlToken} {
		if i := strings.Index(out, s); i >= 0 {
			t.Errorf("the %s appears in the log: …%s…", name, out[max(0, i-200):min(len(out), i+100)])
		}
	}
}
