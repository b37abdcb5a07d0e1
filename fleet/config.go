package fleet

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Names shared by every gateway of a fleet.
const (
	// SendSubject is the subject of send requests any gateway may take;
	// SendSubject + "." + gateway addresses one gateway.
	SendSubject = "simhook.send"
	// EventsSubject is the prefix of event subjects:
	// EventsSubject + "." + gateway + "." + type.
	EventsSubject = "simhook.events"
	// KVBucket is the key-value bucket of the phones' states.
	KVBucket = "simhook_phones"
	// AnyConsumer is the durable consumer all gateways share for SendSubject.
	AnyConsumer = "simhook-any"
)

// Defaults applied by Config.WithDefaults.
const (
	DefaultSendStream   = "SIMHOOK_SEND"
	DefaultEventsStream = "SIMHOOK_EVENTS"
	DefaultSendMaxAge   = 24 * time.Hour
	DefaultEventsMaxAge = 168 * time.Hour
	DefaultDuplicates   = 2 * time.Minute
	DefaultAckWait      = 30 * time.Second
	DefaultPhonesTTL    = 2 * time.Minute
	DefaultRetryDelay   = 5 * time.Second
)

// TLS names the PEM files of a TLS connection: the CA that signs the
// server's certificate and the client's own certificate and key. Empty
// fields are not used; CertFile and KeyFile go together.
type TLS struct{ CAFile, CertFile, KeyFile string }

// StreamConfig is how the agent creates a stream that is missing. A stream
// that exists is left as it is.
type StreamConfig struct {
	Name     string
	Replicas int
	MaxAge   time.Duration
	// Duplicates is the window in which a second message with the same
	// Nats-Msg-Id is dropped; 0 is the server's default (2m).
	Duplicates time.Duration
}

// Config is a Node's configuration. The connection settings are URLs,
// CredsFile, Token and TLS; the rest says what the Node creates and how it
// serves.
type Config struct {
	// URLs are the servers, e.g. nats://nats.example.com:4222 or tls://...
	URLs []string
	// Gateway is this agent's name in the fleet (see ValidGateway).
	Gateway string
	// CredsFile is a NATS credentials file (JWT and NKey seed).
	CredsFile string
	// Token is an authentication token.
	Token string
	TLS   TLS
	// Send is the work-queue stream of send requests,
	// by default {SIMHOOK_SEND, 1, 24h}.
	Send StreamConfig
	// Events is the stream of events, by default {SIMHOOK_EVENTS, 1, 168h}
	// with a duplicate window of 2m.
	Events StreamConfig
	// AckWait is how long a taken request waits for its ack before the
	// server hands it to another gateway (default 30s). It applies to
	// consumers the Node creates.
	AckWait time.Duration
	// PhonesTTL is how long a phone's entry lives in the bucket without a
	// refresh (default 2m). It applies when the Node creates the bucket.
	PhonesTTL time.Duration
	// PhonesReplicas is the bucket's replica count (default 1).
	PhonesReplicas int
	// RetryDelay is how long a request whose handler asked to try again
	// waits before it is delivered again (default 5s).
	RetryDelay time.Duration
}

// WithDefaults returns c with its zero fields set to the defaults.
func (c Config) WithDefaults() Config {
	c.URLs = append([]string(nil), c.URLs...)
	if c.Send.Name == "" {
		c.Send.Name = DefaultSendStream
	}
	if c.Send.Replicas <= 0 {
		c.Send.Replicas = 1
	}
	if c.Send.MaxAge == 0 {
		c.Send.MaxAge = DefaultSendMaxAge
	}
	if c.Events.Name == "" {
		c.Events.Name = DefaultEventsStream
	}
	if c.Events.Replicas <= 0 {
		c.Events.Replicas = 1
	}
	if c.Events.MaxAge == 0 {
		c.Events.MaxAge = DefaultEventsMaxAge
	}
	if c.Events.Duplicates == 0 {
		c.Events.Duplicates = DefaultDuplicates
	}
	if c.AckWait <= 0 {
		c.AckWait = DefaultAckWait
	}
	if c.PhonesTTL <= 0 {
		c.PhonesTTL = DefaultPhonesTTL
	}
	if c.PhonesReplicas <= 0 {
		c.PhonesReplicas = 1
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = DefaultRetryDelay
	}
	return c
}

// SendSubjectFor is the subject of send requests for one gateway.
func SendSubjectFor(gateway string) string { return SendSubject + "." + gateway }

// EventSubject is the subject a gateway publishes an event of a type on.
func EventSubject(gateway, eventType string) string {
	return EventsSubject + "." + gateway + "." + eventType
}

// GatewayConsumer is the name of a gateway's own durable consumer.
func GatewayConsumer(gateway string) string { return "simhook-gw-" + gateway }

// ValidGateway reports whether name can be a gateway's name: one subject
// token of ASCII letters, digits, '-' and '_', at most 64 characters.
func ValidGateway(name string) error {
	if err := validToken(name); err != nil {
		return fmt.Errorf("fleet: gateway %q: %w", name, err)
	}
	return nil
}

func validToken(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if len(s) > 64 {
		return errors.New("longer than 64 characters")
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("%q is not a letter, digit, - or _", r)
		}
	}
	return nil
}

// validate checks the parts of c a Node needs; gateway says whether the
// gateway's name is needed.
func (c Config) validate(gateway bool) error {
	if gateway {
		if err := ValidGateway(c.Gateway); err != nil {
			return err
		}
	} else if c.Gateway != "" {
		if err := ValidGateway(c.Gateway); err != nil {
			return err
		}
	}
	if len(c.URLs) == 0 {
		return errors.New("fleet: no server URL")
	}
	for _, u := range c.URLs {
		if err := validURL(u); err != nil {
			return err
		}
	}
	for _, s := range []StreamConfig{c.Send, c.Events} {
		if s.Name == "" || strings.ContainsAny(s.Name, ".*> \t\r\n/\\") {
			return fmt.Errorf("fleet: stream name %q: not a valid name", s.Name)
		}
		if s.Duplicates < 0 || s.MaxAge < 0 || (s.MaxAge > 0 && s.Duplicates > s.MaxAge) {
			return fmt.Errorf("fleet: stream %s: duplicate window %v with max age %v", s.Name, s.Duplicates, s.MaxAge)
		}
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return errors.New("fleet: tls cert and key files go together")
	}
	return nil
}

func validURL(s string) error {
	raw := s
	if !strings.Contains(raw, "://") {
		raw = "nats://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("fleet: server URL %q: %w", s, err)
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
	default:
		return fmt.Errorf("fleet: server URL %q: scheme %q is not nats, tls, ws or wss", s, u.Scheme)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("fleet: server URL %q: no host", s)
	}
	return nil
}

// connSettings is what a connection is made of, with the contents of the
// files it reads, so that a changed file is a changed setting.
type connSettings struct {
	key   string
	token string
	creds string
	tls   *tls.Config
}

// loadConn reads the files of c's connection settings.
func loadConn(c Config) (connSettings, error) {
	h := sha256.New()
	field := func(s string) { fmt.Fprintf(h, "%d:%s;", len(s), s) }
	for _, u := range c.URLs {
		field(u)
	}
	field("|")
	field(c.Token)
	read := func(what, name string) ([]byte, error) {
		field(name)
		if name == "" {
			return nil, nil
		}
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("fleet: %s: %w", what, err)
		}
		field(string(b))
		return b, nil
	}
	s := connSettings{token: c.Token, creds: c.CredsFile}
	creds, err := read("creds_file", c.CredsFile)
	if err != nil {
		return s, err
	}
	if c.CredsFile != "" && !strings.Contains(string(creds), "NATS USER JWT") {
		return s, fmt.Errorf("fleet: creds_file %s: not a NATS credentials file", c.CredsFile)
	}
	ca, err := read("tls ca file", c.TLS.CAFile)
	if err != nil {
		return s, err
	}
	cert, err := read("tls cert file", c.TLS.CertFile)
	if err != nil {
		return s, err
	}
	key, err := read("tls key file", c.TLS.KeyFile)
	if err != nil {
		return s, err
	}
	if ca != nil || cert != nil {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if ca != nil {
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(ca) {
				return s, fmt.Errorf("fleet: tls ca file %s: no PEM certificate", c.TLS.CAFile)
			}
		}
		if cert != nil {
			pair, err := tls.X509KeyPair(cert, key)
			if err != nil {
				return s, fmt.Errorf("fleet: tls cert and key %s, %s: %w", c.TLS.CertFile, c.TLS.KeyFile, err)
			}
			tc.Certificates = []tls.Certificate{pair}
		}
		s.tls = tc
	}
	s.key = fmt.Sprintf("%x", h.Sum(nil))
	return s, nil
}

// options are the nats options of s.
func (s connSettings) options() []nats.Option {
	var o []nats.Option
	if s.token != "" {
		o = append(o, nats.Token(s.token))
	}
	if s.creds != "" {
		o = append(o, nats.UserCredentials(s.creds))
	}
	if s.tls != nil {
		o = append(o, nats.Secure(s.tls))
	}
	return o
}
