package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestMarshalRoundTrip checks that the effective configuration loads back to
// the same configuration, for every valid test file.
func TestMarshalRoundTrip(t *testing.T) {
	t.Setenv(CredentialsDirEnv, "")
	for _, file := range []string{"example.yaml", "minimal.yaml", "empty.yaml", "secret_files.yaml"} {
		t.Run(file, func(t *testing.T) {
			path := filepath.Join("testdata", "valid", file)
			c, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			out, err := c.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(out, path)
			if err != nil {
				t.Fatalf("the marshalled configuration does not load: %v\n%s", err, out)
			}
			if !reflect.DeepEqual(back, c) {
				t.Errorf("round trip changed the configuration:\n got %+v\nwant %+v\n%s", back, c, out)
			}
		})
	}
}

func TestMarshalDurations(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{168 * time.Hour, "168h"},
		{2 * time.Hour, "2h"},
		{90 * time.Minute, "1h30m"},
		{15 * time.Second, "15s"},
		{300 * time.Millisecond, "300ms"},
		{0, "0s"},
		{time.Hour + time.Second, "1h0m1s"},
	}
	for _, tt := range tests {
		if got := D(tt.d).String(); got != tt.want {
			t.Errorf("Duration(%v).String() = %q, want %q", tt.d, got, tt.want)
		}
		if back, err := time.ParseDuration(D(tt.d).String()); err != nil || back != tt.d {
			t.Errorf("%q parses back to %v, %v", D(tt.d).String(), back, err)
		}
	}
}

func TestRedacted(t *testing.T) {
	t.Setenv(CredentialsDirEnv, "")
	c, err := Load(filepath.Join("testdata", "valid", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	orig, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Redacted().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"s3cret-crm", "new-secret", "old-secret", `pin: "1234"`, "tok-from-file", "Bearer abc"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("redacted output shows secret %q:\n%s", secret, out)
		}
	}
	for _, kept := range []string{"https://crm.example.com/sms", "X-Site: paris", "token_file: ../secrets/api-token", "account: \"42\""} {
		if !strings.Contains(string(out), kept) {
			t.Errorf("redacted output lacks %q:\n%s", kept, out)
		}
	}
	if strings.Count(string(out), RedactedValue) != 5 {
		t.Errorf("want 5 redacted values (secret, 2 secrets, pin, Authorization):\n%s", out)
	}
	// The original is untouched.
	again, _ := c.Marshal()
	if string(again) != string(orig) {
		t.Error("Redacted changed the original configuration")
	}
	if c.Webhooks[0].Headers["Authorization"] != "Bearer abc" || c.Webhooks[1].Secrets[0] != "new-secret" {
		t.Error("Redacted changed the original's secrets")
	}
}

func TestAllSecrets(t *testing.T) {
	tests := []struct {
		w    Webhook
		want []string
	}{
		{Webhook{Secret: "a"}, []string{"a"}},
		{Webhook{Secrets: []string{"new", "old"}}, []string{"new", "old"}},
		{Webhook{Secret: "cur", Secrets: []string{"old"}}, []string{"cur", "old"}},
		{Webhook{Secret: "same", Secrets: []string{"same", "old"}}, []string{"same", "old"}},
		{Webhook{}, []string{}},
	}
	for _, tt := range tests {
		if got := tt.w.AllSecrets(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("AllSecrets(%+v) = %q, want %q", tt.w, got, tt.want)
		}
	}
}

func TestDiff(t *testing.T) {
	base := func() *Config {
		c := Default()
		c.Phones = []Phone{DefaultPhone(), DefaultPhone(), DefaultPhone()}
		for i := range c.Phones {
			c.Phones[i].ID = i + 1
			c.Phones[i].Port = "/dev/ttyUSB" + string(rune('0'+i))
		}
		w := DefaultWebhook()
		w.Name, w.URL, w.Secret = "a", "https://a.example/", "s"
		c.Webhooks = []Webhook{w}
		return c
	}
	tests := []struct {
		name   string
		change func(c *Config)
		want   Changes
	}{
		{"nothing", func(c *Config) {}, Changes{}},
		{"phones", func(c *Config) {
			c.Phones[1].Calls = "reject"
			c.Phones = append(c.Phones[:2], DefaultPhone())
			c.Phones[2].ID, c.Phones[2].Port = 7, "/dev/ttyACM0"
		}, Changes{PhonesAdded: []int{7}, PhonesRemoved: []int{3}, PhonesChanged: []int{2}}},
		{"init list", func(c *Config) { c.Phones[0].Init = []string{"ATZ"} }, Changes{PhonesChanged: []int{1}}},
		{"webhook header", func(c *Config) { c.Webhooks[0].Headers = map[string]string{"X": "y"} }, Changes{Webhooks: true}},
		{"sections", func(c *Config) {
			c.Delivery.Concurrency = 9
			c.Reliability.Unknown.Enabled = true
			c.Log.Format = "json"
			c.Sending.MaxAttempts = 1
		}, Changes{Delivery: true, Reliability: true, Log: true, Sending: true}},
		{"restart", func(c *Config) { c.API.Listen = "127.0.0.1:1"; c.StateDir = "/srv" }, Changes{API: true, StateDir: true}},
		{"zone and user", func(c *Config) { c.Timezone = "UTC"; c.UserID = 2 }, Changes{Timezone: true, UserID: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, new := base(), base()
			tt.change(new)
			got := Diff(old, new)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Diff = %+v, want %+v", got, tt.want)
			}
			if got.Any() != (tt.name != "nothing") {
				t.Errorf("Any() = %v", got.Any())
			}
			if got.NeedsRestart() != (tt.name == "restart") {
				t.Errorf("NeedsRestart() = %v", got.NeedsRestart())
			}
		})
	}
}

func TestValidateBuiltConfig(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default() does not validate: %v", err)
	}
	p := DefaultPhone()
	p.ID = 1
	c.Phones = append(c.Phones, p)
	w := DefaultWebhook()
	w.URL = "https://a.example/"
	c.Webhooks = append(c.Webhooks, w)
	err := c.Validate()
	checkErrorsNoFile(t, err, []want{
		{"phones[0]", 0, "set port or match"},
		{"webhooks[0].name", 0, "must not be empty"},
		{"webhooks[0]", 0, "a webhook needs a secret"},
	})
}

// checkErrorsNoFile is checkErrors for an error that names no file.
func checkErrorsNoFile(t *testing.T, err error, wants []want) {
	t.Helper()
	errs, ok := err.(*Errors)
	if !ok {
		t.Fatalf("error %v (%T) is not an *Errors", err, err)
	}
	if len(errs.List) != len(wants) {
		t.Fatalf("got %d problems, want %d:\n%v", len(errs.List), len(wants), err)
	}
	for i, w := range wants {
		g := errs.List[i]
		if g.Key != w.key || g.Line != w.line || !strings.Contains(g.Reason, w.reason) {
			t.Errorf("problem %d = %+v, want %+v", i, g, w)
		}
	}
	if f := errs.Find("webhooks[0]"); f == nil || !strings.Contains(f.Error(), "webhooks[0]: a webhook needs a secret") {
		t.Errorf("Find(webhooks[0]) = %v", f)
	}
}

// TestRedactedCredentials: Redacted also hides credentials that are not
// secrets by name: a URL's query values and tokens in its path, custom_data
// and headers whose names look like credentials.
func TestRedactedCredentials(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "valid", "credentials_in_urls.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Redacted().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		what  string
		value string
		shown bool
	}{
		{"query value", "tok-SECRET-1", false},
		{"another query value", "paris-SECRET-2", false},
		{"custom_data api_key", "ck-SECRET-3", false},
		{"custom_data password", "pw-SECRET-4", false},
		{"custom_data session_id", "sess-SECRET-5", false},
		{"header X-Session", "hs-SECRET-6", false},
		{"header Proxy-Authorization", "pa-SECRET-7", false},
		{"header X-Signature", "sig-SECRET-8", false},
		{"header X-Passphrase", "pp-SECRET-9", false},
		{"Slack's token in the path", "AbCdEfGhIjKlMnOpQrStUvWx", false},
		{"Mattermost's key in the path", "3k9fz1q8bjrg5muwo7xhc4a2ne", false},
		{"query names", "?token=", true},
		{"host and path", "https://hooks.example.com/in", true},
		{"Slack's ids", "/services/T0000ABCD/B0000EFGH/", true},
		{"custom_data account", `account: "42"`, true},
		{"header X-Site", "X-Site: paris", true},
	}
	for _, tt := range tests {
		if strings.Contains(string(out), tt.value) != tt.shown {
			t.Errorf("%s %q: shown %v, want %v", tt.what, tt.value, !tt.shown, tt.shown)
		}
	}
	if t.Failed() {
		t.Logf("redacted:\n%s", out)
	}
	if c.Webhooks[0].URL != "https://hooks.example.com/in?token=tok-SECRET-1&site=paris-SECRET-2" || c.Webhooks[0].CustomData["api_key"] != "ck-SECRET-3" {
		t.Error("Redacted changed the original")
	}
}
