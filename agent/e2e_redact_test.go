package agent_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/lab"
	"github.com/simhook/simhook/modem/modemsim"
	"github.com/simhook/simhook/webhook"
)

// TestURLTokenNeverShown: an endpoint whose URL carries a token in its query
// is unreachable; its failures are logged and kept as last_error, yet the
// token appears neither in the log nor in the API's answers.
func TestURLTokenNeverShown(t *testing.T) {
	const token = "url-token-SECRET-7c1e9a"
	var logs lab.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l := startLab(t, lab.Options{
		Endpoints: []lab.Endpoint{{Name: "leaky", URL: "http://127.0.0.1:1/hook?token=" + token, Secret: "leaky-secret"}},
		Agent:     agent.Options{Logger: log},
	})
	c := socketClient(l.SocketPath())
	ctx := testContext(t, 60*time.Second)
	if _, err := l.Modems[0].InjectSMS(modemsim.SMS{From: "+33612345678", Text: "to both endpoints"}); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitEvents(ctx, webhook.ReceiveSMS, 1); err != nil {
		t.Fatal(err)
	}
	var deliveries string
	waitUntil(t, 30*time.Second, "a failure of the leaky endpoint, listed and logged", func() bool {
		_, deliveries = call(t, c, "GET", "/v1/outbox/deliveries?endpoint=leaky", "")
		return strings.Contains(deliveries, "last_error") && strings.Contains(logs.String(), "endpoint=leaky")
	})
	if !strings.Contains(deliveries, "127.0.0.1:1") {
		t.Errorf("last_error no longer says where the request went: %s", deliveries)
	}
	_, stats := call(t, c, "GET", "/v1/outbox/stats", "")
	_, metrics := call(t, c, "GET", "/metrics", "")
	for what, text := range map[string]string{"log": logs.String(), "deliveries": deliveries, "stats": stats, "metrics": metrics} {
		if i := strings.Index(text, token); i >= 0 {
			t.Errorf("the %s shows the URL's token: …%s…", what, text[max(0, i-200):min(len(text), i+100)])
		}
	}
}
