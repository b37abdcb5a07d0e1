package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/webhook"
)

// want is one expected problem: its key path, line and a part of its reason.
type want struct {
	key    string
	line   int
	reason string
}

func TestLoadInvalidFiles(t *testing.T) {
	t.Setenv(CredentialsDirEnv, "")
	tests := []struct {
		file string
		want []want // every problem, in order
	}{
		{"syntax.yaml", []want{{"", 3, "YAML syntax error: did not find expected '-' indicator"}}},
		{"two_docs.yaml", []want{{"", 2, "second YAML document"}}},
		{"duplicate_key.yaml", []want{{"user_id", 3, "duplicate key (first set on line 1)"}}},
		{"unknown_top.yaml", []want{{"webhook", 2, `unknown key (did you mean "webhooks"?)`}}},
		{"unknown_nested.yaml", []want{{"webhooks[0].retry.max_intervall", 7, `unknown key (did you mean "max_interval"?)`}}},
		{"merge_key.yaml", []want{
			{"base", 1, "unknown key"},
			{"webhooks[0].<<", 3, "merge keys (<<) are not supported"},
			{"webhooks[0].url", 3, "must not be empty"},
		}},
		{"wrong_types.yaml", []want{
			{"user_id", 1, `want an integer, got "one"`},
			{"log", 2, "want a mapping (key: value lines), got a list"},
			{"phones[0].baud", 6, `want an integer, got "fast"`},
			{"phones[0].delivery_reports", 7, `want true or false, got "yes"`},
			{"phones[0].init", 8, `want a list, got a value "ATZ"`},
			{"delivery.concurrency", 10, `want an integer, got "2.5"`},
			{"reliability.failed.rate", 12, `want a number, got "high"`},
		}},
		{"missing_secret_file.yaml", []want{
			{"api.token_file", 3, "no such file or directory"},
			{"phones[0].pin_file", 7, "is empty"},
			{"webhooks[0].secret_file", 11, "/nonexistent/simhook-secret: no such file or directory"},
			{"webhooks[1].secret_file", 15, "set either secret or secret_file, not both"},
		}},
		{"values.yaml", []want{
			{"state_dir", 1, "must not be empty"},
			{"timezone", 2, `unknown time zone "Mars/Olympus_Mons"`},
			{"user_id", 3, "must be a positive integer, got 0"},
			{"log.level", 4, `must be one of debug, info, warn, error, got "loud"`},
			{"log.format", 4, `must be one of text, json, got "xml"`},
			{"api.socket", 6, "must be an absolute path"},
			{"api.listen", 7, "requires api.token or api.token_file"},
			{"phones[0].id", 9, "must be a positive integer, got 0"},
			{"phones[0].port", 10, "must be an absolute device path"},
			{"phones[0].baud", 11, "must be a positive integer, got -1"},
			{"phones[0].pin", 12, "a PIN is 4 to 8 digits"},
			{"phones[0].storage", 13, `must be one of SM, ME, MT, got "SIM"`},
			{"phones[0].calls", 14, `must be one of ignore, reject, got "answer"`},
			{"phones[0].init[1]", 15, `must start with AT, got "reboot"`},
			{"phones[1]", 16, "set port or match"},
			{"phones[2].id", 17, "phone id 2 is used twice"},
			{"phones[2].match", 19, "set either port or match, not both"},
			{"phones[2].match.usb", 19, `must be vid:pid in hex`},
			{"phones[2].match.imei", 19, "must be 14 to 16 digits"},
			{"phones[2].match.iccid", 19, "must be 18 to 22 digits"},
			{"webhooks[0].name", 21, "must not be empty"},
			{"webhooks[0].url", 22, "must be an absolute http:// or https:// URL"},
			{"webhooks[0].events[1]", 24, `unknown event type "bogus"`},
			{"webhooks[0].events[2]", 24, `"receive_sms" is listed twice`},
			{"webhooks[0].phones[1]", 25, "no phone has id 9"},
			{"webhooks[0].method", 26, `must be one of post, get, got "put"`},
			{"webhooks[0].format", 27, `must be one of form, json, template, got "xml"`},
			{"webhooks[0].timeout", 28, "must be a positive duration, got 0s"},
			{"webhooks[0].retry.max_age", 29, "must be a positive duration, got -1h"},
			{"webhooks[0].retry.initial", 29, "must not exceed retry.max_interval (1h), got 2h"},
			{"webhooks[1].url", 31, "must be an absolute http:// or https:// URL"},
			{"webhooks[1].secrets[0]", 32, "whsec_ secret must be followed by base64"},
			{"webhooks[1].template", 34, "does not parse as a Go text/template"},
			{"webhooks[1].custom_data.body", 35, "reserved"},
			{"webhooks[1].headers.Bad Header", 36, "not a valid HTTP header name"},
			{"webhooks[1].headers.webhook-signature", 36, "set by simhook"},
			{"webhooks[2].name", 37, `webhook name "tpl" is used twice`},
			{"webhooks[2]", 37, "a webhook needs a secret"},
			{"webhooks[2].template", 37, "format template requires a template"},
			{"delivery.concurrency", 41, "must be between 1 and 64, got 65"},
			{"delivery.retention", 42, "must be a positive duration, got 0s"},
			{"delivery.dead_retention", 43, "must be a positive duration, got -1h"},
			{"reliability.check_interval", 45, "must be a positive duration, got -5m"},
			{"reliability.failed.rate", 46, "must be in (0, 1], got 0"},
			{"reliability.failed.min_volume", 46, "must be at least 1, got 0"},
			{"reliability.failed.grace", 46, "must be shorter than period (10m), got 10m"},
			{"reliability.unknown.rate", 47, "must be in (0, 1], got 1.5"},
			{"reliability.unknown.period", 47, "must be a positive duration, got 0s"},
			{"sending.queue_timeout", 49, "must be a positive duration, got 0s"},
			{"sending.max_attempts", 50, "must be at least 1, got 0"},
		}},
		{"timings.yaml", []want{
			{"phones[0].command_timeout", 5, "must be at least 1s, got 500ms"},
			{"phones[0].probe_interval", 6, "must be at least 1s, got 0s"},
			{"phones[0].sweep_interval", 7, "must be at least 10s, got 5s"},
			{"phones[0].concat_timeout", 8, "must be at least 1m, got 30s"},
			{"phones[0].ring_gap", 9, "must be at least 2s, got 1s"},
			{"phones[1].ring_gap", 12, "must be at least 2s, got -3s"},
			{"delivery.probe_max", 14, "must be at least 1s, got 500ms"},
		}},
		{"fleet.yaml", []want{
			{"fleet.nats[1]", 3, `want a nats://, tls://, ws:// or wss:// URL, got "http://b.example.com"`},
			{"fleet.nats", 3, "needs fleet.secret or fleet.secret_file"},
			{"fleet.gateway", 4, `(it is a subject token), got "paris 1"`},
			{"fleet.creds_file", 5, "set either a token or a creds_file, not both"},
			{"fleet.tls", 7, "needs both cert_file and key_file"},
			{"fleet.send_stream.name", 8, `got "SEND.ALL"`},
			{"fleet.send_stream.replicas", 8, "must be 1 to 5, got 7"},
			{"fleet.send_stream.max_age", 8, "must be at least 1m, got 10s"},
			{"fleet.events_stream.name", 9, `got "SEND.ALL"`},
			{"fleet.events_stream.name", 9, "must differ from send_stream.name"},
			{"fleet.ack_wait", 10, "must be at least 1s, got 0s"},
		}},
		{"sending_limits.yaml", []want{
			{"phones[0].limits.minute", 6, "must be 0 (no limit) or a positive number of parts, got -1"},
			{"phones[0].limits.day_reset", 6, `must be a time of day HH:MM (24-hour), got "24:00"`},
			{"phones[0].send_gap.max", 7, "must be at least send_gap.min (5s), got 1s"},
			{"phones[0].allow[1]", 8, `must be a number prefix such as "+33" (digits, optionally after +), got "33-"`},
			{"phones[0].balance.code", 9, `must be a USSD code of digits, * and # such as "*100#", got "*100#;ATD"`},
			{"phones[1].balance.every", 13, "must be at least 1m, got 10s"},
			{"phones[1].balance.pattern", 13, "not a valid regular expression"},
		}},
		{"headers.yaml", []want{
			{"webhooks[0].headers.Content-Type", 7, "set by simhook"},
			{"webhooks[0].headers.Transfer-Encoding", 8, "set by simhook"},
			{"webhooks[0].headers.X-Bell", 9, "control character"},
			{"webhooks[0].headers.X-Nul", 10, "control character"},
			{"webhooks[0].headers.X-Del", 11, "control character"},
			{"webhooks[0].headers.X-Line", 13, "control character"},
			{"webhooks[0].headers.X(y)", 14, "not a valid HTTP header name"},
		}},
		{"templates.yaml", []want{
			{"webhooks[0].content_type", 6, "only goes with format template, not form"},
			{"webhooks[1].template", 11, `function "nope" not defined`},
			{"webhooks[1].content_type", 12, `content_type "json" is not a media type`},
			{"webhooks[1].max_body", 13, "must be between 1B and 16MiB, got 0B"},
			{"webhooks[2].max_body", 19, "must be between 1B and 16MiB, got 32MiB"},
			{"webhooks[3].max_body", 25, `want a size like 1MiB, 512KiB or a number of bytes, got "1MB"`},
			{"webhooks[4].headers.x-a", 29, "header x-a is given twice"},
			{"webhooks[5].template", 34, "does not parse as a Go text/template"},
			{"webhooks[5].content_type", 35, `content_type "text" is not a media type`},
		}},
		{"url_query.yaml", []want{
			{"webhooks[0].url", 7, `query parameter "webhook_type" is one of simhook's own fields`},
			{"webhooks[1].url", 11, `query parameter "body" is one of simhook's own fields`},
			{"webhooks[1].url", 11, `query parameter "webhook_signature" is one of simhook's own fields`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "invalid", tt.file)
			c, err := Load(path)
			if c != nil {
				t.Errorf("Load returned a configuration along with an error")
			}
			checkErrors(t, err, path, tt.want)
		})
	}
}

// checkErrors asserts that err is an *Errors holding exactly the wanted
// problems, in order, and that its message names each of them.
func checkErrors(t *testing.T, err error, file string, wants []want) {
	t.Helper()
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %v (%T) is not an *Errors", err, err)
	}
	if errs.File != file {
		t.Errorf("Errors.File = %q, want %q", errs.File, file)
	}
	for i := range max(len(errs.List), len(wants)) {
		switch {
		case i >= len(errs.List):
			t.Errorf("missing problem %d: %+v", i, wants[i])
		case i >= len(wants):
			t.Errorf("unexpected problem %d: %v", i, errs.List[i])
		default:
			g, w := errs.List[i], wants[i]
			if g.Key != w.key || g.Line != w.line || !strings.Contains(g.Reason, w.reason) {
				t.Errorf("problem %d = {%q, %d, %q}, want {%q, %d, containing %q}", i, g.Key, g.Line, g.Reason, w.key, w.line, w.reason)
			}
		}
	}
	msg := err.Error()
	for _, w := range wants {
		prefix := file + ":" + strconv.Itoa(w.line) + ": "
		if w.key != "" {
			prefix += w.key + ": "
		}
		if !strings.Contains(msg, prefix) {
			t.Errorf("error message lacks %q:\n%s", prefix, msg)
		}
	}
	if lines := strings.Count(msg, "\n") + 1; lines != len(wants) {
		t.Errorf("error message has %d lines, want %d:\n%s", lines, len(wants), msg)
	}
}

// withDefaults fills the fields of p left at zero with DefaultPhone's.
func withDefaults(p Phone) Phone {
	d := DefaultPhone()
	d.ID, d.Port, d.Match = p.ID, p.Port, p.Match
	return d
}

func TestLoadExample(t *testing.T) {
	t.Setenv(CredentialsDirEnv, "")
	path := filepath.Join("testdata", "valid", "example.yaml")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Path = path
	want.Timezone = "Europe/Paris"
	want.UserID = 3
	want.Log = Log{Level: "debug", Format: "json"}
	want.API = API{Socket: "/run/simhook/api.sock", Listen: "127.0.0.1:8080", Token: "tok-from-file", TokenFile: "../secrets/api-token"}
	want.Phones = []Phone{
		{ID: 1, Port: "/dev/serial/by-id/usb-HUAWEI_Mobile-if00-port0", Baud: 9600, PIN: "1234", Storage: "ME",
			DeliveryReports: false, Calls: "reject", Init: []string{"AT^CURC=0", `AT+CSCS="GSM"`},
			CommandTimeout: D(20 * time.Second), ProbeInterval: D(time.Minute), SweepInterval: D(5 * time.Minute),
			ConcatTimeout: D(2 * time.Hour), RingGap: D(6 * time.Second),
			Limits: Limits{Minute: 6, Hour: 100, Day: 500, DayReset: "06:30"}, SendGap: SendGap{Min: D(2 * time.Second), Max: D(8 * time.Second)},
			Allow: []string{"+33", "+32"}, Balance: Balance{Code: "*100#", Every: D(12 * time.Hour), Pattern: "([0-9]+[.,][0-9]+) EUR"}},
		withDefaults(Phone{ID: 2, Match: Match{USB: "12d1:1506", IMEI: "861234567890123"}}),
	}
	want.Webhooks = []Webhook{
		{Name: "crm", URL: "https://crm.example.com/sms", Secret: "s3cret-crm",
			Events: []string{"receive_sms", "send_sms_status_change"}, Phones: []int{2}, Method: "post", Format: "form",
			CustomData: map[string]string{"account": "42"}, Headers: map[string]string{"Authorization": "Bearer abc", "X-Site": "paris"},
			MaxBody: DefaultMaxBody, Timeout: D(5 * time.Second), Retry: Retry{Initial: D(time.Second), MaxInterval: D(10 * time.Minute), MaxAge: D(48 * time.Hour)}},
		{Name: "chat", URL: "http://chat.local:8065/hooks/xyz", Secrets: []string{"new-secret", "old-secret"},
			Method: "post", Format: "template", Template: `{"text": {{json (printf "SMS from %s: %s" .Body.origin .Body.text)}}}`,
			MaxBody: 64 << 10, Timeout: D(15 * time.Second), Retry: Retry{Initial: D(5 * time.Second), MaxInterval: D(time.Hour), MaxAge: D(168 * time.Hour)}},
	}
	want.Delivery = Delivery{Concurrency: 8, RequireTimeSync: false, Retention: D(72 * time.Hour), DeadRetention: D(240 * time.Hour), ProbeMax: D(10 * time.Second)}
	want.Reliability.CheckInterval = D(5 * time.Minute)
	want.Reliability.Failed = Threshold{Enabled: true, Rate: 0.5, MinVolume: 4, Period: D(30 * time.Minute), Grace: D(0), AutoDisable: true}
	want.Sending = Sending{QueueTimeout: D(2 * time.Minute), MaxAttempts: 5}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load(%s):\n got %+v\nwant %+v", path, c, want)
	}
	if loc := c.Location(); loc.String() != "Europe/Paris" {
		t.Errorf("Location() = %v", loc)
	}
}

func TestLoadValidFiles(t *testing.T) {
	creds, err := filepath.Abs(filepath.Join("testdata", "creds"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file     string
		credsDir string
		check    func(t *testing.T, c *Config)
	}{
		{"empty.yaml", "", func(t *testing.T, c *Config) {
			want := Default()
			want.Path = c.Path
			if !reflect.DeepEqual(c, want) {
				t.Errorf("an empty file is not all defaults: %+v", c)
			}
		}},
		{"minimal.yaml", "", func(t *testing.T, c *Config) {
			p := DefaultPhone()
			p.ID, p.Port = 1, "/dev/ttyUSB0"
			if !reflect.DeepEqual(c.Phones, []Phone{p}) {
				t.Errorf("phones = %+v, want %+v", c.Phones, []Phone{p})
			}
			w := DefaultWebhook()
			w.Name, w.URL, w.Secret = "crm", "https://crm.example.com/sms", "abc"
			if !reflect.DeepEqual(c.Webhooks, []Webhook{w}) {
				t.Errorf("webhooks = %+v, want %+v", c.Webhooks, []Webhook{w})
			}
			if !c.Phones[0].DeliveryReports {
				t.Error("delivery_reports does not default to true")
			}
		}},
		{"secret_files.yaml", "", func(t *testing.T, c *Config) {
			if got := c.Webhooks[0].AllSecrets(); !reflect.DeepEqual(got, []string{"secret-from-file", "older-secret"}) {
				t.Errorf("AllSecrets() = %q", got)
			}
			if c.Phones[0].PIN != "0000" {
				t.Errorf("PIN = %q, want the pin_file's content", c.Phones[0].PIN)
			}
		}},
		{"templates.yaml", "", func(t *testing.T, c *Config) {
			if got := c.Webhooks[2].ContentType; got != "text/plain; charset=utf-8" {
				t.Errorf("content_type = %q", got)
			}
			if got := c.Webhooks[2].MaxBody; got != 4096 {
				t.Errorf("max_body = %d", got)
			}
		}},
		{"unpadded_secret.yaml", "", func(t *testing.T, c *Config) {
			key, err := webhook.SecretKey(c.Webhooks[0].Secrets[0])
			if err != nil || string(key) != "abcd" {
				t.Errorf("SecretKey(%q) = %q, %v; want abcd", c.Webhooks[0].Secrets[0], key, err)
			}
		}},
		{"credentials.yaml", creds, func(t *testing.T, c *Config) {
			if got := c.Webhooks[0].AllSecrets(); !reflect.DeepEqual(got, []string{"secret-from-credentials"}) {
				t.Errorf("AllSecrets() = %q, want the file from CREDENTIALS_DIRECTORY", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+filepath.Base(tt.credsDir), func(t *testing.T) {
			t.Setenv(CredentialsDirEnv, tt.credsDir)
			path := filepath.Join("testdata", "valid", tt.file)
			c, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if c.Path != path {
				t.Errorf("Path = %q, want %q", c.Path, path)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("a loaded configuration does not Validate: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestCredentialsDirectoryWithoutFile(t *testing.T) {
	// Without CREDENTIALS_DIRECTORY the relative name is looked up next to
	// the configuration file, where there is no such file.
	t.Setenv(CredentialsDirEnv, "")
	_, err := Load(filepath.Join("testdata", "valid", "credentials.yaml"))
	checkErrors(t, err, filepath.Join("testdata", "valid", "credentials.yaml"), []want{
		{"webhooks[0].secret_file", 4, "testdata/valid/hook-secret: no such file or directory"},
	})
}

func TestShippedConfigLoads(t *testing.T) {
	path := filepath.Join("..", "packaging", "simhook.yaml")
	c, err := Load(path)
	if err != nil {
		t.Fatalf("the shipped configuration does not load:\n%v", err)
	}
	want := Default()
	want.Path = path
	if !reflect.DeepEqual(c, want) {
		t.Errorf("the shipped configuration does not state the defaults:\n got %+v\nwant %+v", c, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want an error wrapping os.ErrNotExist", err)
	}
}

// TestShippedConfigExamples uncomments the example phone and webhook of the
// shipped configuration and checks that they load, and that the values they
// show are the real defaults.
func TestShippedConfigExamples(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "packaging", "simhook.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	examples := uncommentExamples(data)
	c, err := Parse(examples, "")
	if err != nil {
		t.Fatalf("the shipped examples do not load: %v\n%s", err, examples)
	}
	f := DefaultFleet()
	f.NATS, f.Secret = StringList{"nats://nats.example.com:4222"}, "change-me-fleet"
	if !reflect.DeepEqual(c.Fleet, f) {
		t.Errorf("example fleet = %+v, want the defaults %+v", c.Fleet, f)
	}
	p := DefaultPhone()
	p.ID, p.Port = 1, "/dev/serial/by-id/usb-HUAWEI_Mobile-if00-port0"
	if !reflect.DeepEqual(c.Phones, []Phone{p}) {
		t.Errorf("example phone = %+v, want the defaults %+v", c.Phones, []Phone{p})
	}
	w := DefaultWebhook()
	w.Name, w.URL, w.Secret = "crm", "https://crm.example.com/sms", "change-me"
	if len(c.Webhooks) != 2 || !reflect.DeepEqual(c.Webhooks[0], w) {
		t.Errorf("example webhooks = %+v, want first the defaults %+v", c.Webhooks, w)
	}
}

// TestLoadFleet reads a gateway's fleet section: one URL written as a
// string, its defaults filled in, and the token and secret hidden by
// Redacted.
func TestLoadFleet(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "valid", "fleet.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultFleet()
	want.NATS = StringList{"nats://nats.example.com:4222"}
	want.Gateway, want.Token, want.Secret = "paris-1", "s3cret-token", "fleet-signing-secret"
	want.TLS = FleetTLS{CAFile: "/etc/simhook/nats-ca.pem"}
	want.SendStream = Stream{Name: "SIMHOOK_SEND", Replicas: 3, MaxAge: D(12 * time.Hour)}
	want.AckWait = D(45 * time.Second)
	if !reflect.DeepEqual(c.Fleet, want) {
		t.Errorf("fleet = %+v\nwant %+v", c.Fleet, want)
	}
	if !c.Fleet.Enabled() || Default().Fleet.Enabled() {
		t.Error("Enabled is wrong")
	}
	r := c.Redacted().Fleet
	if r.Token != RedactedValue || r.Secret != RedactedValue {
		t.Errorf("redacted fleet %+v still shows a credential", r)
	}
}
