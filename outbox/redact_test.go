package outbox

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/webhook"
)

// TestCredentialsInURLStayInside: an endpoint whose URL carries credentials
// (userinfo, a token in the query) fails; the error is kept as last_error,
// logged and listed, but the credentials appear in none of them.
func TestCredentialsInURLStayInside(t *testing.T) {
	t.Parallel()
	secrets := []string{"alice-user", "pw-hunter2", "tok-SECRET-42", "other-SECRET-43"}
	var logs lockedBuffer
	o := open(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	good := newReceiver(t, nil) // keeps the network "up", so the failure is logged as such
	leaky := Endpoint{
		Endpoint: webhook.Endpoint{Name: "leaky", URL: "http://alice-user:pw-hunter2@127.0.0.1:1/x?token=tok-SECRET-42&k=other-SECRET-43",
			Secrets: []string{testSecret}},
		Timeout: 2 * time.Second,
		Retry:   RetryPolicy{Initial: 20 * time.Millisecond, MaxInterval: 200 * time.Millisecond, MaxAge: time.Hour, ClientErrorAttempts: 3},
	}
	if err := o.SetEndpoints([]Endpoint{good.endpoint("good"), leaky}); err != nil {
		t.Fatal(err)
	}
	run(t, o)
	enqueueN(t, o, 0, 1)
	var infos []DeliveryInfo
	waitFor(t, 30*time.Second, "a failed attempt on the leaky endpoint", func() bool {
		infos = nil
		_ = o.List(ListFilter{Endpoint: "leaky"}, func(d DeliveryInfo) error { infos = append(infos, d); return nil })
		return len(infos) == 1 && infos[0].LastError != "" && strings.Contains(logs.String(), "leaky")
	})
	if !strings.Contains(infos[0].LastError, "127.0.0.1:1") {
		t.Errorf("last_error %q no longer says where the request went", infos[0].LastError)
	}
	st, err := o.Stats()
	if err != nil {
		t.Fatal(err)
	}
	stats, _ := json.Marshal(st)
	list, _ := json.Marshal(infos)
	metrics, _ := json.Marshal(o.Metrics())
	for what, text := range map[string]string{"log": logs.String(), "stats": string(stats), "deliveries": string(list), "metrics": string(metrics)} {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("the %s shows %q:\n%s", what, s, text)
			}
		}
	}
}
