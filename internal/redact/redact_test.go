package redact

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://crm.example.com/sms", "https://crm.example.com/sms"},
		{"https://u:pw@host/x?token=SECRET", "https://REDACTED@host/x?token=REDACTED"},
		{"https://token-only@host:8443/x", "https://REDACTED@host:8443/x"},
		{"http://host/x?a=1&b=&c;d=4", "http://host/x?a=REDACTED&b=REDACTED&REDACTED;d=REDACTED"},
		{"http://host/x?", "http://host/x?"},
		{"http://host/x#frag", "http://host/x#REDACTED"},
		{"https://hooks.slack.com/services/T0000ABCD/B0000EFGH/AbCdEfGhIjKlMnOpQrStUvWx",
			"https://hooks.slack.com/services/T0000ABCD/B0000EFGH/REDACTED"},
		{"http://chat.local:8065/hooks/3k9fz1q8bjrg5muwo7xhc4a2ne", "http://chat.local:8065/hooks/REDACTED"},
		{"https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage",
			"https://api.telegram.org/REDACTED/sendMessage"},
		{"https://example.com/receive-sms-webhook-endpoint/v2", "https://example.com/receive-sms-webhook-endpoint/v2"},
		{"https://u:p@host:port/x?token=S", "https://REDACTED@host:port/x?token=REDACTED"}, // does not parse
		{"not a url", "not a url"},
	}
	for _, tt := range tests {
		if got := URL(tt.in); got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestString(t *testing.T) {
	tests := []struct{ in, want string }{
		{`Post "http://alice:***@127.0.0.1:1/x?token=S&k=T": dial tcp 127.0.0.1:1: connect: connection refused`,
			`Post "http://REDACTED@127.0.0.1:1/x?token=REDACTED&k=REDACTED": dial tcp 127.0.0.1:1: connect: connection refused`},
		{`parse "https://u:pw@h:port/?t=S": invalid port ":port" after host`, `parse "https://REDACTED@h:port/?t=REDACTED": invalid port ":port" after host`},
		{"two: http://a/?x=1 and https://b@c/", "two: http://a/?x=REDACTED and https://REDACTED@c/"},
		{"no url here", "no url here"},
		{`get http://h/x?token=ab'cdSECRET failed`, `get http://h/x?token=REDACTED failed`},
	}
	for _, tt := range tests {
		if got := String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestError: a real client error is masked and still unwraps, also when
// the URL holds quotes (legal in a URL, escaped where %q prints it).
func TestError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, raw := range []string{
		"http://alice:pw@127.0.0.1:1/x?token=SECRET",
		"http://127.0.0.1:1/x?token=ab'cdSECRET",
		`http://127.0.0.1:1/x?token=ab"cdSECRET`,
	} {
		req, err := http.NewRequestWithContext(ctx, "GET", raw, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = http.DefaultClient.Do(req)
		if err == nil {
			t.Fatal("no error")
		}
		masked := Error(err)
		for _, s := range []string{"alice", "pw", "SECRET"} {
			if strings.Contains(masked.Error(), s) {
				t.Errorf("%q shows %q", masked, s)
			}
		}
		if !strings.Contains(masked.Error(), "127.0.0.1:1/x?token=REDACTED") || !errors.Is(masked, context.Canceled) {
			t.Errorf("masked %q (Is Canceled: %v): lost what it said", masked, errors.Is(masked, context.Canceled))
		}
	}
	if Error(nil) != nil {
		t.Error("Error(nil) is not nil")
	}
	plain := errors.New("plain")
	if Error(plain) != plain {
		t.Error("an error with nothing to mask was replaced")
	}
}
