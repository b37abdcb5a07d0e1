package config

import (
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/simhook/simhook/webhook"
)

// Fleet is the fleet section: the gateway joins a NATS JetStream server
// that many gateways share. Send requests wait in a work-queue stream until
// a gateway with a free phone takes them, and every event is published to
// one stream. Webhooks keep working beside it. Every key applies on reload.
type Fleet struct {
	// NATS is the server's URL (nats://host:4222, tls://...), or a list of
	// a cluster's URLs. Default: none, meaning no fleet.
	NATS StringList `yaml:"nats"`
	// Gateway names this gateway in subjects and the fleet view: letters,
	// digits, - and _. Default "" (the host name, cleaned up).
	Gateway string `yaml:"gateway"`
	// CredsFile is a NATS credentials file (JWT and NKey seed). Default "".
	CredsFile string `yaml:"creds_file,omitempty"`
	// Token is a NATS authentication token. Default "".
	Token string `yaml:"token,omitempty"`
	// TokenFile names a file holding the token, instead of Token.
	TokenFile string `yaml:"token_file,omitempty"`
	// TLS sets the CA that signs the server's certificate and an optional
	// client certificate.
	TLS FleetTLS `yaml:"tls"`
	// Secret signs the events published to the events stream, as for a
	// webhook endpoint (both signatures go in the message headers). A
	// value starting with whsec_ is a base64 Standard Webhooks key.
	// Required with nats.
	Secret string `yaml:"secret,omitempty"`
	// SecretFile names a file holding the secret, instead of Secret.
	SecretFile string `yaml:"secret_file,omitempty"`
	// SendStream is the work-queue stream of send requests.
	SendStream Stream `yaml:"send_stream"`
	// EventsStream is the stream events are published to.
	EventsStream Stream `yaml:"events_stream"`
	// AckWait is how long a request a gateway took but did not acknowledge
	// (it died) waits before another gateway may take it. Default 30s.
	AckWait Duration `yaml:"ack_wait"`
}

// Enabled reports whether a fleet server is configured.
func (f Fleet) Enabled() bool { return len(f.NATS) > 0 }

// FleetTLS is the TLS material for the NATS connection.
type FleetTLS struct {
	// CAFile is the CA certificate that signs the server's (PEM).
	CAFile string `yaml:"ca_file,omitempty"`
	// CertFile and KeyFile are a client certificate and its key (PEM).
	CertFile string `yaml:"cert_file,omitempty"`
	KeyFile  string `yaml:"key_file,omitempty"`
}

// Stream is a JetStream stream's settings; the agent creates the stream
// with them when it is missing.
type Stream struct {
	// Name is the stream's name.
	Name string `yaml:"name"`
	// Replicas is how many servers of a cluster keep it (1 to 5).
	Replicas int `yaml:"replicas"`
	// MaxAge is how long a message is kept in it.
	MaxAge Duration `yaml:"max_age"`
}

// StringList is a list of strings that may also be written as one string.
type StringList []string

// DefaultFleet returns the fleet section's defaults (no server).
func DefaultFleet() Fleet {
	return Fleet{
		SendStream:   Stream{Name: "SIMHOOK_SEND", Replicas: 1, MaxAge: D(24 * time.Hour)},
		EventsStream: Stream{Name: "SIMHOOK_EVENTS", Replicas: 1, MaxAge: D(168 * time.Hour)},
		AckWait:      D(30 * time.Second),
	}
}

var (
	gatewayRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	streamRe  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// validateFleet checks the fleet section when a server is configured.
func validateFleet(k *checker, c *Config) {
	f := c.Fleet
	if !f.Enabled() {
		return
	}
	for i, w := range c.Webhooks {
		if w.Name == "fleet" {
			k.fail(fmt.Sprintf("webhooks[%d].name", i), "\"fleet\" names the fleet's events stream; choose another name")
		}
	}
	for i, u := range f.NATS {
		key := fmt.Sprintf("fleet.nats[%d]", i)
		if len(f.NATS) == 1 {
			key = "fleet.nats"
		}
		p, err := url.Parse(u)
		switch {
		case err != nil:
			k.fail(key, "not a URL: %v", err)
		case p.Scheme != "nats" && p.Scheme != "tls" && p.Scheme != "ws" && p.Scheme != "wss":
			k.fail(key, "want a nats://, tls://, ws:// or wss:// URL, got %q", u)
		case p.Host == "":
			k.fail(key, "the URL has no host: %q", u)
		}
	}
	if f.Gateway != "" && !gatewayRe.MatchString(f.Gateway) {
		k.fail("fleet.gateway", "must be 1 to 64 letters, digits, - or _ (it is a subject token), got %q", f.Gateway)
	}
	if f.Secret == "" && f.SecretFile == "" {
		k.fail("fleet.nats", "the fleet needs fleet.secret or fleet.secret_file to sign the events it publishes")
	} else if _, err := webhook.SecretKey(f.Secret); f.Secret != "" && err != nil {
		k.fail("fleet.secret", "%v", err)
	}
	if f.Token != "" && f.CredsFile != "" {
		k.fail("fleet.creds_file", "set either a token or a creds_file, not both")
	}
	if (f.TLS.CertFile == "") != (f.TLS.KeyFile == "") {
		k.fail("fleet.tls", "a client certificate needs both cert_file and key_file")
	}
	for _, s := range []struct {
		key string
		st  Stream
	}{{"fleet.send_stream", f.SendStream}, {"fleet.events_stream", f.EventsStream}} {
		if !streamRe.MatchString(s.st.Name) {
			k.fail(s.key+".name", "must be 1 to 64 letters, digits, - or _, got %q", s.st.Name)
		}
		if s.st.Replicas < 1 || s.st.Replicas > 5 {
			k.fail(s.key+".replicas", "must be 1 to 5, got %d", s.st.Replicas)
		}
		atLeast(k, s.key+".max_age", s.st.MaxAge, time.Minute)
	}
	if f.SendStream.Name == f.EventsStream.Name {
		k.fail("fleet.events_stream.name", "must differ from send_stream.name")
	}
	atLeast(k, "fleet.ack_wait", f.AckWait, time.Second)
}
