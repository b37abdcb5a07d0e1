package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/webhook"
)

// TestConfigCheckAgreesWithRun: what `simhook config check` accepts, the
// agent turns into endpoints whose requests go out; what the agent would
// refuse, config check refuses too, naming the line and key.
func TestConfigCheckAgreesWithRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	now := time.Now()
	body, err := json.Marshal(sampleBody(webhook.ReceiveSMS, now, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	id, err := webhook.NewRandomID(now.Unix())
	if err != nil {
		t.Fatal(err)
	}
	msg := webhook.Message{Type: webhook.ReceiveSMS, Timestamp: now.Unix(), RandomID: id, Body: body}
	tests := []struct {
		file     string
		wantCode int
		want     string // in the output
	}{
		{"testdata/header-content-type.yaml", 1, ":6: webhooks[0].headers.Content-Type: "},
		{"testdata/header-control-char.yaml", 1, ":6: webhooks[0].headers.X-Site: "},
		{"testdata/template-json.yaml", 0, "valid"},
		{"testdata/with-secret.yaml", 0, "valid"},
		{"../../packaging/simhook.yaml", 0, "valid"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			out, errOut, code := runCmd(t, "config", "check", tt.file)
			if code != tt.wantCode || !strings.Contains(out+errOut, tt.want) {
				t.Errorf("config check: exit %d, output %q %q; want exit %d containing %q", code, out, errOut, tt.wantCode, tt.want)
			}
			cfg, err := config.Load(tt.file)
			if (err == nil) != (code == 0) {
				t.Errorf("config check exit %d, but config.Load: %v", code, err)
			}
			if err != nil {
				return
			}
			for _, ep := range agent.Endpoints(cfg) {
				enc, err := webhook.NewEncoder(ep.Endpoint)
				if err != nil {
					t.Errorf("config check accepts what the agent refuses: %v", err)
					continue
				}
				req, err := enc.NewRequest(context.Background(), msg, now)
				if err != nil {
					t.Errorf("endpoint %s: %v", ep.Name, err)
					continue
				}
				req.URL.Host = srv.Listener.Addr().String() // the test server stands in for the receiver
				req.URL.Scheme = "http"
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Errorf("endpoint %s: config check accepts a request that cannot be sent: %v", ep.Name, err)
					continue
				}
				resp.Body.Close()
			}
		})
	}
}
