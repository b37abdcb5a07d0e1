package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/simhook/simhook/receiver"
)

// runCmd runs the command line and returns its output and exit code.
func runCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr)
	code := 0
	var ec exitCode
	switch {
	case errors.As(err, &ec):
		code = int(ec)
	case err != nil:
		stderr.WriteString(err.Error())
		code = 1
	}
	return stdout.String(), stderr.String(), code
}

func TestConfigCheck(t *testing.T) {
	tests := []struct {
		file     string
		wantCode int
		want     string
		hidden   []string // credentials the output must not show
	}{
		{"../../packaging/simhook.yaml", 0, "valid. Effective configuration", nil},
		{"testdata/unknown-key.yaml", 1, "colour: unknown key", nil},
		{"testdata/missing-secret-file.yaml", 1, "secret_file", nil},
		{"testdata/url-token.yaml", 0, "https://hooks.example.com/x?token=", []string{"tok-SECRET-1", "hunter2"}},
		{"testdata/url-userinfo.yaml", 1, "must not carry credentials",
			[]string{"alice-user", "pw-SECRET-2", "tok-SECRET-3", "bob-user", "pw-SECRET-4", "tok-SECRET-5", "carol-user", "pw-SECRET-6", "tok-SECRET-7"}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			out, errOut, code := runCmd(t, "config", "check", tt.file)
			if code != tt.wantCode || !strings.Contains(out+errOut, tt.want) {
				t.Errorf("exit %d, output %q %q; want exit %d containing %q", code, out, errOut, tt.wantCode, tt.want)
			}
			for _, s := range tt.hidden {
				if strings.Contains(out+errOut, s) {
					t.Errorf("the output shows %q:\n%s%s", s, out, errOut)
				}
			}
		})
	}
	if out, _, _ := runCmd(t, "config", "check", "testdata/with-secret.yaml"); strings.Contains(out, "hunter2") {
		t.Errorf("the effective config shows a secret:\n%s", out)
	}
}

func TestVerifyCapture(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef"
	capture := "../../receiver/testdata/captured/spec_vector_fields.txt"
	if out, _, code := runCmd(t, "verify", "--secret", secret, capture); code != 0 || !strings.Contains(out, "valid") {
		t.Errorf("right secret: exit %d\n%s", code, out)
	}
	if out, _, code := runCmd(t, "verify", "--secret", "wrong", capture); code != 1 {
		t.Errorf("wrong secret: exit %d\n%s", code, out)
	}
}

// TestWebhookTest sends the sample events to a verifying receiver and to a
// closed port, through a real configuration file.
func TestWebhookTest(t *testing.T) {
	rcv := receiver.New(receiver.Options{Secrets: []string{"s3cret"}})
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "simhook.yaml")
	yaml := "state_dir: " + dir + "\nwebhooks:\n  - name: good\n    url: " + srv.URL + "/hook\n    secret: s3cret\n" +
		"  - name: refused\n    url: http://127.0.0.1:1/hook\n    secret: s3cret\n    events: [inbound_call]\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, code := runCmd(t, "webhook", "test", "--config", cfg, "--endpoint", "good")
	if code != 0 || strings.Count(out, "delivered") != 5 {
		t.Errorf("good endpoint: exit %d\n%s", code, out)
	}
	if st := rcv.Stats(); st.Accepted != 5 || st.Rejected != 0 {
		t.Errorf("the receiver judged %+v", st)
	}
	out, _, code = runCmd(t, "webhook", "test", "--config", cfg, "--endpoint", "refused")
	if code != 1 || !strings.Contains(out, "inbound_call") || strings.Contains(out, "receive_sms") {
		t.Errorf("refused endpoint (inbound_call only): exit %d\n%s", code, out)
	}
}

func TestUnknownCommand(t *testing.T) {
	if _, errOut, code := runCmd(t, "frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Errorf("exit %d: %s", code, errOut)
	}
	if out, _, code := runCmd(t, "version"); code != 0 || !strings.HasPrefix(out, "simhook ") {
		t.Errorf("version: %d %q", code, out)
	}
}

// TestWebhookTestRedirect: `simhook webhook test` does not follow a
// redirect, as the daemon does not: the signed body and the endpoint's
// headers must not reach another host, and the 3xx is reported as the
// client error the daemon would make of it.
func TestWebhookTestRedirect(t *testing.T) {
	var mu sync.Mutex
	var leaked []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		leaked = append(leaked, r.Method+" "+r.URL.String()+" X-Api-Key="+r.Header.Get("X-Api-Key")+" webhook-signature="+r.Header.Get("webhook-signature"))
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer other.Close()
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/stolen", http.StatusTemporaryRedirect)
	}))
	defer redirecting.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "simhook.yaml")
	yaml := "state_dir: " + dir + "\nwebhooks:\n  - name: moved\n    url: " + redirecting.URL + "/hook\n    secret: s3cret\n" +
		"    events: [receive_sms]\n    headers:\n      X-Api-Key: key-for-the-first-host\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, code := runCmd(t, "webhook", "test", "--config", cfg)
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) != 0 {
		t.Errorf("the redirect was followed; the other host got %q", leaked)
	}
	if code != 1 || !strings.Contains(out, "307") || !strings.Contains(out, "client error") || strings.Contains(out, "delivered") {
		t.Errorf("exit %d, want 1 and a 307 reported as a client error:\n%s", code, out)
	}
}
