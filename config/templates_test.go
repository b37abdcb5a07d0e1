package config

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/webhook"
)

// documentedConfigs are the configuration files operators are shown: the
// shipped one (its commented examples uncommented) and the test examples.
func documentedConfigs(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "valid", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string][]byte)
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = data
	}
	shipped := filepath.Join("..", "packaging", "simhook.yaml")
	data, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	out[shipped] = uncommentExamples(data)
	return out
}

// uncommentExamples turns the shipped configuration's commented example
// phone and webhooks into real ones.
func uncommentExamples(data []byte) []byte {
	var b strings.Builder
	for line := range strings.Lines(string(data)) {
		switch {
		case strings.HasPrefix(line, "#  "):
			line = line[1:]
		case line == "phones: []\n":
			line = "phones:\n"
		case line == "webhooks: []\n":
			line = "webhooks:\n"
		case line == "  nats: []\n":
			line = "" // the example's nats line follows
		}
		b.WriteString(line)
	}
	return []byte(b.String())
}

// hostileMessages returns one message of each event type whose every string
// value holds characters that break an unescaped JSON or text body.
func hostileMessages(t *testing.T) []webhook.Message {
	t.Helper()
	var out []webhook.Message
	for _, typ := range webhook.Types() {
		raw, err := os.ReadFile(filepath.Join("..", "webhook", "testdata", "events", string(typ)+".json"))
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var body any
		if err := dec.Decode(&body); err != nil {
			t.Fatal(err)
		}
		body = poison(body)
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(body); err != nil {
			t.Fatal(err)
		}
		id, err := webhook.NewRandomID(1763805600)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, webhook.Message{Type: typ, Timestamp: 1763805600, RandomID: id, Body: buf.Bytes()})
	}
	return out
}

// poison appends quotes, backslashes and control characters to every string in v.
func poison(v any) any {
	switch x := v.(type) {
	case string:
		return x + "\"}\\\n\t\x01<&>\u2028"
	case map[string]any:
		for k, e := range x {
			x[k] = poison(e)
		}
	case []any:
		for i, e := range x {
			x[i] = poison(e)
		}
	}
	return v
}

// TestDocumentedTemplates loads every documented template endpoint, then
// renders it for every event type with hostile values: a template whose
// content type is JSON must give valid JSON whatever the SMS says.
func TestDocumentedTemplates(t *testing.T) {
	// The examples' relative secret files all resolve from testdata/creds.
	creds, err := filepath.Abs(filepath.Join("testdata", "creds"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(CredentialsDirEnv, creds)
	msgs := hostileMessages(t)
	var hooks []Webhook
	where := map[int]string{}
	perFile := map[string]int{}
	for name, data := range documentedConfigs(t) {
		c, err := Parse(data, name)
		if err != nil {
			t.Errorf("%s does not load:\n%v", name, err)
			continue
		}
		for _, w := range c.Webhooks {
			if w.Format == "template" {
				where[len(hooks)] = name
				hooks = append(hooks, w)
				perFile[name]++
			}
		}
	}
	for _, name := range []string{filepath.Join("..", "packaging", "simhook.yaml"), filepath.Join("testdata", "valid", "example.yaml")} {
		if perFile[name] == 0 {
			t.Errorf("%s shows no template endpoint", name)
		}
	}
	for i, w := range hooks {
		t.Run(where[i]+"/"+w.Name, func(t *testing.T) {
			enc, err := webhook.NewEncoder(w.Endpoint())
			if err != nil {
				t.Fatalf("the agent refuses it: %v", err)
			}
			for _, m := range msgs {
				req, err := enc.NewRequest(context.Background(), m, time.Unix(1763805600, 0))
				if err != nil {
					t.Errorf("%s: %v", m.Type, err)
					continue
				}
				body, _ := io.ReadAll(req.Body)
				mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
				if err != nil {
					t.Errorf("%s: content type %q: %v", m.Type, req.Header.Get("Content-Type"), err)
					continue
				}
				if (mt == "application/json" || strings.HasSuffix(mt, "+json")) && !json.Valid(body) {
					t.Errorf("%s: the %s body is not valid JSON:\n%s", m.Type, mt, body)
				}
			}
		})
	}
}
