package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/webhook"
	"go.yaml.in/yaml/v3"
)

// TestConfigCheckAgreesWithRun checks both directions between
// `simhook config check` and the code that sends: a file config check
// accepts becomes endpoints whose requests the encoder builds and that go
// out; a file it refuses for a header (naming the line and key) has a
// header the encoder refuses too, read from the file without config.Load.
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
				t.Fatalf("config check: exit %d, output %q %q; want exit %d containing %q", code, out, errOut, tt.wantCode, tt.want)
			}
			if code != 0 {
				for _, ep := range rawEndpoints(t, tt.file) {
					if _, err := webhook.NewEncoder(ep); err == nil {
						t.Errorf("config check refuses %s, but the encoder accepts endpoint %s with headers %q", tt.file, ep.Name, ep.Headers)
					}
				}
				return
			}
			cfg, err := config.Load(tt.file)
			if err != nil {
				t.Fatal(err)
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

// rawEndpoints reads the webhooks of a configuration file as the encoder's
// endpoints, with their headers as written, bypassing config's validation.
func rawEndpoints(t *testing.T, file string) []webhook.Endpoint {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Webhooks []struct {
			Name, URL, Secret string
			Headers           map[string]string
		}
	}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Webhooks) == 0 {
		t.Fatalf("%s: no webhooks", file)
	}
	var eps []webhook.Endpoint
	for _, w := range raw.Webhooks {
		eps = append(eps, webhook.Endpoint{Name: w.Name, URL: w.URL, Secrets: []string{w.Secret}, Headers: w.Headers})
	}
	return eps
}
