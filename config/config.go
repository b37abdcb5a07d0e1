package config

import (
	"time"

	"github.com/simhook/simhook/internal/redact"
	"github.com/simhook/simhook/webhook"
)

// Config is the whole configuration file. The zero value is not useful: start
// from Default, or use Load or Parse, which fill in every default.
type Config struct {
	// StateDir is the directory holding the bbolt outbox. Default /var/lib/simhook.
	StateDir string `yaml:"state_dir"`
	// Timezone is the zone event dates are written in: an IANA name such as
	// Europe/Paris, or Local for the system's zone. Default Local.
	Timezone string `yaml:"timezone"`
	// UserID is the id_user sent in inbound_call events. Default 1.
	UserID int `yaml:"user_id"`
	// Log sets the agent's log level and format.
	Log Log `yaml:"log"`
	// API configures the local control API (socket, optional TCP listener).
	API API `yaml:"api"`
	// Phones lists the GSM modems to drive. Default: none.
	Phones []Phone `yaml:"phones"`
	// Webhooks lists the endpoints events are delivered to. Default: none.
	Webhooks []Webhook `yaml:"webhooks"`
	// Delivery tunes how the outbox delivers webhooks.
	Delivery Delivery `yaml:"delivery"`
	// Reliability sets the phone_reliability alert thresholds.
	Reliability Reliability `yaml:"reliability"`
	// Sending tunes how send requests are queued and retried on the phones.
	Sending Sending `yaml:"sending"`
	// Storage guards the state directory's filesystem.
	Storage Storage `yaml:"storage"`
	// Fleet joins a NATS JetStream server shared by many gateways.
	Fleet Fleet `yaml:"fleet"`

	// Path is the file the configuration was read from ("" when built in code).
	Path string `yaml:"-"`
}

// Storage is the storage section: the disk guard. When free space on the
// state directory's filesystem falls under the larger of MinFreeMB and
// MinFreePercent of its size, the agent leaves new SMS on the SIMs and
// refuses new send requests, keeps delivering, and resumes by itself once
// space is back. Both zero disable the guard.
type Storage struct {
	// MinFreeMB is the free space, in MiB, under which the guard acts.
	// Default 100.
	MinFreeMB int `yaml:"min_free_mb"`
	// MinFreePercent is the free space, in percent of the filesystem, under
	// which the guard acts. Default 5.
	MinFreePercent float64 `yaml:"min_free_percent"`
}

// Log is the log section.
type Log struct {
	// Level is the minimum level logged: debug, info, warn or error. Default info.
	Level string `yaml:"level"`
	// Format is text (logfmt-like, for the journal) or json. Default text.
	Format string `yaml:"format"`
}

// API is the local control API section. It holds only strings, so two API
// values can be compared with ==.
type API struct {
	// Socket is the Unix socket the API listens on; "" disables it.
	// Default /run/simhook/api.sock.
	Socket string `yaml:"socket"`
	// Listen is an optional TCP address such as 127.0.0.1:8080. It requires a
	// token. Default "" (no TCP listener).
	Listen string `yaml:"listen"`
	// Token is the bearer token the TCP listener requires. Default "".
	Token string `yaml:"token,omitempty"`
	// TokenFile names a file holding the token, instead of Token. Default "".
	TokenFile string `yaml:"token_file,omitempty"`
}

// Phone is one GSM modem. Exactly one of Port and Match identifies it.
type Phone struct {
	// ID is the phone's id in events: a positive integer, unique. Required.
	ID int `yaml:"id"`
	// Port is the serial device, preferably a stable /dev/serial/by-id/ path.
	Port string `yaml:"port,omitempty"`
	// Match finds the modem by USB ids, IMEI or ICCID instead of a port.
	Match Match `yaml:"match,omitempty"`
	// Baud is the serial speed. Default 115200.
	Baud int `yaml:"baud"`
	// PIN is the SIM's PIN, if it has one. Default "".
	PIN string `yaml:"pin,omitempty"`
	// PINFile names a file holding the PIN, instead of PIN. Default "".
	PINFile string `yaml:"pin_file,omitempty"`
	// Storage is where received SMS are stored before being read: SM (the
	// SIM), ME (the modem) or MT (both). Default SM.
	Storage string `yaml:"storage"`
	// DeliveryReports asks the network for a status report on every sent SMS.
	// Default true.
	DeliveryReports bool `yaml:"delivery_reports"`
	// Calls is what happens to an inbound call once reported: ignore (let it
	// ring) or reject (hang up). Default ignore.
	Calls string `yaml:"calls"`
	// Init lists extra AT commands sent after the standard initialisation.
	// Default: none.
	Init []string `yaml:"init"`
	// CommandTimeout bounds the modem's answer to one AT command (sending
	// waits up to 60s for the network). Default 10s.
	CommandTimeout Duration `yaml:"command_timeout"`
	// ProbeInterval is how often the phone is asked for its signal and
	// registration; a probe that gets no answer marks it down. Default 30s.
	ProbeInterval Duration `yaml:"probe_interval"`
	// SweepInterval is the period of the safety sweep (AT+CMGL) that picks
	// up messages whose +CMTI indication was lost. Default 10m.
	SweepInterval Duration `yaml:"sweep_interval"`
	// ConcatTimeout is how long the parts of an incomplete concatenated
	// message wait on the modem for the rest; after it the message is
	// delivered as it is, flagged incomplete. Default 24h.
	ConcatTimeout Duration `yaml:"concat_timeout"`
	// RingGap ends an inbound call when no RING came for this long (modems
	// repeat RING every 3 to 6 seconds). Default 10s.
	RingGap Duration `yaml:"ring_gap"`
	// Trace logs every line exchanged with the modem at debug level, PINs
	// masked; a reload turns it on or off without reconnecting. Default
	// false.
	Trace bool `yaml:"trace"`
	// Limits caps the parts the phone sends per minute, hour and day. A send
	// that would exceed one waits; it does not fail. Applies on reload.
	Limits Limits `yaml:"limits"`
	// SendGap is a random pause between two sends from the phone. Applies on
	// reload.
	SendGap SendGap `yaml:"send_gap"`
	// Allow lists the destination prefixes (such as "+33") the phone may
	// send to; a request without a phone goes only to a phone that allows
	// its destination. Default: none, meaning every destination. Applies on
	// reload.
	Allow []string `yaml:"allow"`
	// Balance asks the network for the SIM's balance by USSD once the phone
	// is up and then periodically. Applies on reload.
	Balance Balance `yaml:"balance"`
}

// Limits caps what a phone sends, counted in message parts (a 9-part SMS
// counts 9). Zero means no limit. The minute and hour windows slide: at no
// moment did the phone send more than Minute parts in the 60 seconds before.
// The day window is the calendar day, starting at DayReset in the
// configured time zone.
type Limits struct {
	// Minute caps the parts sent in any 60 seconds. Default 0 (none).
	Minute int `yaml:"minute"`
	// Hour caps the parts sent in any 60 minutes. Default 0 (none).
	Hour int `yaml:"hour"`
	// Day caps the parts sent between two day resets. Default 0 (none).
	Day int `yaml:"day"`
	// DayReset is the time of day ("HH:MM", 24-hour, in the configured time
	// zone) at which the day window starts again. Default "00:00".
	DayReset string `yaml:"day_reset"`
}

// IsZero reports whether no limit is set.
func (l Limits) IsZero() bool { return l.Minute == 0 && l.Hour == 0 && l.Day == 0 }

// ResetClock returns DayReset as hours and minutes; an invalid value, which
// Validate rejects, gives midnight.
func (l Limits) ResetClock() (hour, minute int) {
	t, err := time.Parse("15:04", l.DayReset)
	if err != nil {
		return 0, 0
	}
	return t.Hour(), t.Minute()
}

// SendGap is a random pause, between Min and Max, that a phone keeps
// between the end of one send and the start of the next.
type SendGap struct {
	// Min is the shortest pause. Default 0s.
	Min Duration `yaml:"min"`
	// Max is the longest pause; at least Min. Default 0s.
	Max Duration `yaml:"max"`
}

// Balance is a phone's balance check: a USSD code sent once the phone is up
// and then every Every; the first group of Pattern (or its whole match)
// read from the answer is exported as a number.
type Balance struct {
	// Code is the USSD code, such as "*100#". Default "" (no check).
	Code string `yaml:"code"`
	// Every is the period of the check. Default 24h, at least 1m.
	Every Duration `yaml:"every"`
	// Pattern is a regular expression finding the balance in the answer,
	// such as "([0-9]+[.,][0-9]+)". A comma is read as a decimal point.
	// Default "" (the first number in the answer).
	Pattern string `yaml:"pattern"`
}

// Match identifies a modem by what it reports rather than by its port. Every
// field that is set must match.
type Match struct {
	// USB is the USB "vid:pid" in hex, such as "12d1:1506".
	USB string `yaml:"usb,omitempty"`
	// IMEI is the modem's IMEI (AT+CGSN).
	IMEI string `yaml:"imei,omitempty"`
	// ICCID is the SIM card's ICCID.
	ICCID string `yaml:"iccid,omitempty"`
}

// IsZero reports whether no match criterion is set.
func (m Match) IsZero() bool { return m == Match{} }

// Webhook is one endpoint events are delivered to.
type Webhook struct {
	// Name identifies the endpoint in logs, metrics and the CLI: non-empty
	// and unique. Required.
	Name string `yaml:"name"`
	// URL is the absolute http or https URL requests go to. Required.
	URL string `yaml:"url"`
	// Secret is the HMAC key requests are signed with. A value starting with
	// whsec_ is a base64 Standard Webhooks key. One of Secret, SecretFile or
	// Secrets is required.
	Secret string `yaml:"secret,omitempty"`
	// SecretFile names a file holding the secret, instead of Secret.
	SecretFile string `yaml:"secret_file,omitempty"`
	// Secrets lists the secrets during a rotation, new first: requests are
	// signed with the first (legacy scheme) and with all (Standard Webhooks).
	Secrets []string `yaml:"secrets,omitempty"`
	// Events lists the event types sent to this endpoint. Default: all five.
	Events []string `yaml:"events"`
	// Phones lists the phone ids whose events are sent. Default: all phones.
	Phones []int `yaml:"phones"`
	// Method is post or get. Default post.
	Method string `yaml:"method"`
	// Format is form (RaspiSMS), json, or template. Default form.
	Format string `yaml:"format"`
	// Template is the Go text/template rendering the request body when
	// Format is template, with the functions json and jsonEscape to escape
	// values in a JSON body. Default "".
	Template string `yaml:"template,omitempty"`
	// ContentType is the Content-Type of a template body, a media type such
	// as "text/plain; charset=utf-8". Only with format template. Default ""
	// (application/json).
	ContentType string `yaml:"content_type,omitempty"`
	// MaxBody caps a rendered template body: a template that renders more
	// fails for that event (a client error, retried a few times, then
	// dead-lettered). At most 16MiB. Default 1MiB.
	MaxBody Size `yaml:"max_body"`
	// CustomData holds extra static fields added to every request. Default: none.
	CustomData map[string]string `yaml:"custom_data"`
	// Headers holds extra HTTP headers added to every request. Default: none.
	Headers map[string]string `yaml:"headers"`
	// Timeout bounds one request. Default 15s.
	Timeout Duration `yaml:"timeout"`
	// Retry is the retry schedule for failed requests.
	Retry Retry `yaml:"retry"`
}

// Retry is a webhook's retry schedule: exponential backoff with jitter from
// Initial up to MaxInterval between attempts, giving up after MaxAge.
type Retry struct {
	// Initial is the first wait after a failure. Default 5s.
	Initial Duration `yaml:"initial"`
	// MaxInterval caps the wait between attempts. Default 1h.
	MaxInterval Duration `yaml:"max_interval"`
	// MaxAge is how long an event is retried (time offline not counted)
	// before it expires. Default 168h.
	MaxAge Duration `yaml:"max_age"`
}

// Delivery is the delivery section.
type Delivery struct {
	// Concurrency bounds the requests in flight, 1 to 64. Default 4.
	Concurrency int `yaml:"concurrency"`
	// RequireTimeSync holds signed requests while the system clock is known
	// to be unsynchronised (a Raspberry Pi has no real-time clock). Default true.
	RequireTimeSync bool `yaml:"require_time_sync"`
	// Retention is how long an event is kept, for inspection and replay,
	// after its last delivery finished. Default 168h.
	Retention Duration `yaml:"retention"`
	// DeadRetention is how long an event with a dead-lettered delivery (out
	// of retries, or expired while its endpoint was disabled by a 410) is
	// kept after its last delivery finished, if longer than Retention.
	// Default 720h.
	DeadRetention Duration `yaml:"dead_retention"`
	// ProbeMax caps the wait between two probes of an endpoint that does not
	// answer (refused, DNS, timeout): the first comes about a second after
	// the failure, the next ones double up to it. Default 30s, at least 1s.
	ProbeMax Duration `yaml:"probe_max"`
}

// Reliability is the reliability section: when to send phone_reliability
// alerts.
type Reliability struct {
	// CheckInterval is how often the rates are computed. Default 15m.
	CheckInterval Duration `yaml:"check_interval"`
	// Failed is the threshold on sends whose status is failed.
	// Default enabled, rate 0.10, min_volume 25, period 120m, grace 1m.
	Failed Threshold `yaml:"failed"`
	// Unknown is the threshold on sends whose status stayed unknown.
	// Default disabled, rate 0.25, min_volume 25, period 120m, grace 1m.
	Unknown Threshold `yaml:"unknown"`
}

// Threshold is one reliability rule: alert when, over Period, at least
// MinVolume SMS were sent by a phone and the unreliable ones reach Rate.
type Threshold struct {
	// Enabled turns the rule on.
	Enabled bool `yaml:"enabled"`
	// Rate is the unreliable share that triggers an alert, in (0, 1].
	Rate float64 `yaml:"rate"`
	// MinVolume is the fewest sends in Period for the rule to apply, at least 1.
	MinVolume int `yaml:"min_volume"`
	// Period is the sliding window the rate is computed over.
	Period Duration `yaml:"period"`
	// Grace leaves out sends younger than this (their status may still
	// change). Shorter than Period.
	Grace Duration `yaml:"grace"`
	// AutoDisable stops using the phone for sending when the rule fires.
	// Default false.
	AutoDisable bool `yaml:"auto_disable"`
}

// Sending is the sending section: how send requests wait for and retry on a
// phone.
type Sending struct {
	// QueueTimeout fails a send request that waited this long for a free
	// phone. Default 10m.
	QueueTimeout Duration `yaml:"queue_timeout"`
	// MaxAttempts is how many times a send is tried on the modem before it is
	// reported failed, at least 1. Default 3.
	MaxAttempts int `yaml:"max_attempts"`
}

// Default values that are used in more than one place.
const (
	DefaultStateDir = "/var/lib/simhook"
	DefaultSocket   = "/run/simhook/api.sock"
	DefaultBaud     = 115200
	// DefaultMaxBody is a template endpoint's default max_body.
	DefaultMaxBody Size = webhook.DefaultMaxBody
	// MaxMaxBody is the largest max_body accepted.
	MaxMaxBody Size = 16 << 20
)

// RedactedValue is what Redacted puts in place of every secret: the mask
// internal/redact puts in place of credentials in URLs and errors, so that
// `simhook config check` shows one mask.
const RedactedValue = redact.Mask

// Default returns a configuration with every default filled in, no phones and
// no webhooks.
func Default() *Config {
	return &Config{
		StateDir: DefaultStateDir,
		Timezone: "Local",
		UserID:   1,
		Log:      Log{Level: "info", Format: "text"},
		API:      API{Socket: DefaultSocket},
		Delivery: Delivery{Concurrency: 4, RequireTimeSync: true, Retention: D(168 * time.Hour), DeadRetention: D(720 * time.Hour),
			ProbeMax: D(30 * time.Second)},
		Reliability: Reliability{
			CheckInterval: D(15 * time.Minute),
			Failed:        Threshold{Enabled: true, Rate: 0.10, MinVolume: 25, Period: D(120 * time.Minute), Grace: D(time.Minute)},
			Unknown:       Threshold{Enabled: false, Rate: 0.25, MinVolume: 25, Period: D(120 * time.Minute), Grace: D(time.Minute)},
		},
		Sending: Sending{QueueTimeout: D(10 * time.Minute), MaxAttempts: 3},
		Storage: Storage{MinFreeMB: 100, MinFreePercent: 5},
		Fleet:   DefaultFleet(),
	}
}

// DefaultPhone returns a phone with every default filled in and no id or port.
func DefaultPhone() Phone {
	return Phone{Baud: DefaultBaud, Storage: "SM", DeliveryReports: true, Calls: "ignore",
		CommandTimeout: D(10 * time.Second), ProbeInterval: D(30 * time.Second), SweepInterval: D(10 * time.Minute),
		ConcatTimeout: D(24 * time.Hour), RingGap: D(10 * time.Second),
		Limits: Limits{DayReset: "00:00"}, Balance: Balance{Every: D(24 * time.Hour)}}
}

// DefaultWebhook returns a webhook with every default filled in and no name,
// URL or secret.
func DefaultWebhook() Webhook {
	return Webhook{
		Method:  "post",
		Format:  "form",
		MaxBody: DefaultMaxBody,
		Timeout: D(15 * time.Second),
		Retry:   Retry{Initial: D(5 * time.Second), MaxInterval: D(time.Hour), MaxAge: D(168 * time.Hour)},
	}
}

// EventTypes are the five event types a webhook can subscribe to.
var EventTypes = []string{"receive_sms", "send_sms", "send_sms_status_change", "inbound_call", "phone_reliability"}

// Location returns the configured time zone. An unknown zone, which Validate
// rejects, falls back to the system's.
func (c *Config) Location() *time.Location {
	if c.Timezone == "" || c.Timezone == "Local" {
		return time.Local
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return time.Local
	}
	return loc
}
