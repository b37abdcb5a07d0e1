package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/simhook/simhook/internal/redact"
	"github.com/simhook/simhook/webhook"
)

// Validate checks every value of c and returns an *Errors listing all the
// problems, or nil. Load and Parse already call it; use it on a Config built
// or changed in code. Errors from Validate carry no line numbers.
func (c *Config) Validate() error {
	errs := &errList{}
	validate(c, nil, errs)
	return errs.err(c.Path)
}

// lineOf returns the line of key, or of its nearest ancestor that has one.
func lineOf(lines map[string]int, key string) int {
	for key != "" {
		if l, ok := lines[key]; ok {
			return l
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

// checker records validation problems against key paths.
type checker struct {
	lines map[string]int
	errs  *errList
}

func (k *checker) fail(key, format string, args ...any) {
	k.errs.add(key, lineOf(k.lines, key), format, args...)
}

var (
	usbID   = regexp.MustCompile(`^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$`)
	imeiRe  = regexp.MustCompile(`^[0-9]{14,16}$`)
	iccidRe = regexp.MustCompile(`^[0-9]{18,22}[fF]?$`)
	pinRe   = regexp.MustCompile(`^[0-9]{4,8}$`)
)

// reservedFields are the form fields simhook sends itself; neither
// custom_data nor a webhook URL's query string may carry them.
var reservedFields = []string{"webhook_timestamp", "webhook_random_id", "webhook_signature", "webhook_type", "body"}

// validate checks c, recording problems with lines when lines is known.
func validate(c *Config, lines map[string]int, errs *errList) {
	k := &checker{lines: lines, errs: errs}
	if c.StateDir == "" {
		k.fail("state_dir", "must not be empty")
	}
	if c.Timezone == "" {
		k.fail("timezone", "must not be empty (use Local for the system's zone)")
	} else if c.Timezone != "Local" {
		if _, err := time.LoadLocation(c.Timezone); err != nil {
			k.fail("timezone", "unknown time zone %q: use an IANA name such as Europe/Paris, or Local", c.Timezone)
		}
	}
	if c.UserID < 1 {
		k.fail("user_id", "must be a positive integer, got %d", c.UserID)
	}
	oneOf(k, "log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf(k, "log.format", c.Log.Format, "text", "json")
	validateAPI(k, c.API)
	ids := validatePhones(k, c.Phones)
	validateFleet(k, c)
	validateWebhooks(k, c.Webhooks, ids)
	if c.Delivery.Concurrency < 1 || c.Delivery.Concurrency > 64 {
		k.fail("delivery.concurrency", "must be between 1 and 64, got %d", c.Delivery.Concurrency)
	}
	positive(k, "delivery.retention", c.Delivery.Retention)
	positive(k, "delivery.dead_retention", c.Delivery.DeadRetention)
	atLeast(k, "delivery.probe_max", c.Delivery.ProbeMax, time.Second)
	positive(k, "reliability.check_interval", c.Reliability.CheckInterval)
	validateThreshold(k, "reliability.failed", c.Reliability.Failed)
	validateThreshold(k, "reliability.unknown", c.Reliability.Unknown)
	positive(k, "sending.queue_timeout", c.Sending.QueueTimeout)
	if c.Storage.MinFreeMB < 0 {
		k.fail("storage.min_free_mb", "must be 0 or more, got %d", c.Storage.MinFreeMB)
	}
	if c.Storage.MinFreePercent < 0 || c.Storage.MinFreePercent >= 100 {
		k.fail("storage.min_free_percent", "must be from 0 to under 100, got %g", c.Storage.MinFreePercent)
	}
	if c.Sending.MaxAttempts < 1 {
		k.fail("sending.max_attempts", "must be at least 1, got %d", c.Sending.MaxAttempts)
	}
}

// oneOf checks that v is one of the allowed values.
func oneOf(k *checker, key, v string, allowed ...string) {
	if !slices.Contains(allowed, v) {
		k.fail(key, "must be one of %s, got %q", strings.Join(allowed, ", "), v)
	}
}

// positive checks that a duration is above zero.
func positive(k *checker, key string, d Duration) {
	if d.Duration <= 0 {
		k.fail(key, "must be a positive duration, got %s", d)
	}
}

// atLeast checks that d is no shorter than min; shorter values would make
// the phone misjudge a working modem (a RING gap of one second ends every
// call between two RINGs).
func atLeast(k *checker, key string, d Duration, min time.Duration) {
	if d.Duration < min {
		k.fail(key, "must be at least %s, got %s", D(min), d)
	}
}

func validateAPI(k *checker, a API) {
	if a.Socket != "" && !filepath.IsAbs(a.Socket) {
		k.fail("api.socket", "must be an absolute path (or empty to disable the socket), got %q", a.Socket)
	}
	if a.Listen == "" {
		return
	}
	if _, port, err := net.SplitHostPort(a.Listen); err != nil || port == "" {
		k.fail("api.listen", "must be host:port such as 127.0.0.1:8080, got %q", a.Listen)
	}
	if a.Token == "" && a.TokenFile == "" {
		k.fail("api.listen", "a TCP listener requires api.token or api.token_file")
	}
}

// validatePhones checks the phones and returns the set of their ids.
func validatePhones(k *checker, phones []Phone) map[int]bool {
	ids := make(map[int]bool, len(phones))
	for i, p := range phones {
		key := fmt.Sprintf("phones[%d]", i)
		switch {
		case p.ID < 1:
			k.fail(key+".id", "must be a positive integer, got %d", p.ID)
		case ids[p.ID]:
			k.fail(key+".id", "phone id %d is used twice", p.ID)
		}
		ids[p.ID] = true
		switch {
		case p.Port == "" && p.Match.IsZero():
			k.fail(key, "set port or match to identify the modem")
		case p.Port != "" && !p.Match.IsZero():
			k.fail(key+".match", "set either port or match, not both")
		case p.Port != "" && !filepath.IsAbs(p.Port):
			k.fail(key+".port", "must be an absolute device path such as /dev/serial/by-id/..., got %q", p.Port)
		}
		if p.Match.USB != "" && !usbID.MatchString(p.Match.USB) {
			k.fail(key+".match.usb", "must be vid:pid in hex such as \"12d1:1506\", got %q", p.Match.USB)
		}
		if p.Match.IMEI != "" && !imeiRe.MatchString(p.Match.IMEI) {
			k.fail(key+".match.imei", "must be 14 to 16 digits, got %q", p.Match.IMEI)
		}
		if p.Match.ICCID != "" && !iccidRe.MatchString(p.Match.ICCID) {
			k.fail(key+".match.iccid", "must be 18 to 22 digits, got %q", p.Match.ICCID)
		}
		if p.Baud < 1 {
			k.fail(key+".baud", "must be a positive integer, got %d", p.Baud)
		}
		if p.PIN != "" && !pinRe.MatchString(p.PIN) {
			pinKey := key + ".pin"
			if p.PINFile != "" {
				pinKey = key + ".pin_file"
			}
			k.fail(pinKey, "a PIN is 4 to 8 digits")
		}
		oneOf(k, key+".storage", p.Storage, "SM", "ME", "MT")
		oneOf(k, key+".calls", p.Calls, "ignore", "reject")
		atLeast(k, key+".command_timeout", p.CommandTimeout, time.Second)
		atLeast(k, key+".probe_interval", p.ProbeInterval, time.Second)
		atLeast(k, key+".sweep_interval", p.SweepInterval, 10*time.Second)
		atLeast(k, key+".concat_timeout", p.ConcatTimeout, time.Minute)
		atLeast(k, key+".ring_gap", p.RingGap, 2*time.Second)
		validateSending(k, key, p)
		for j, cmd := range p.Init {
			ck := fmt.Sprintf("%s.init[%d]", key, j)
			switch {
			case !strings.HasPrefix(strings.ToUpper(cmd), "AT"):
				k.fail(ck, "an AT command must start with AT, got %q", cmd)
			case strings.ContainsAny(cmd, "\r\n\x1a\x1b"):
				k.fail(ck, "an AT command must be one line without control characters")
			}
		}
	}
	return ids
}

func validateWebhooks(k *checker, hooks []Webhook, phoneIDs map[int]bool) {
	names := make(map[string]bool, len(hooks))
	for i, w := range hooks {
		key := fmt.Sprintf("webhooks[%d]", i)
		before := len(k.errs.list)
		switch {
		case strings.TrimSpace(w.Name) == "":
			k.fail(key+".name", "must not be empty")
		case names[w.Name]:
			k.fail(key+".name", "webhook name %q is used twice", w.Name)
		}
		names[w.Name] = true
		validateURL(k, key+".url", w.URL)
		validateSecrets(k, key, w)
		seen := map[string]bool{}
		for j, e := range w.Events {
			ek := fmt.Sprintf("%s.events[%d]", key, j)
			switch {
			case !slices.Contains(EventTypes, e):
				k.fail(ek, "unknown event type %q: use %s", e, strings.Join(EventTypes, ", "))
			case seen[e]:
				k.fail(ek, "event type %q is listed twice", e)
			}
			seen[e] = true
		}
		for j, id := range w.Phones {
			if !phoneIDs[id] {
				k.fail(fmt.Sprintf("%s.phones[%d]", key, j), "no phone has id %d", id)
			}
		}
		oneOf(k, key+".method", w.Method, "post", "get")
		oneOf(k, key+".format", w.Format, "form", "json", "template")
		if w.Method == "get" && (w.Format == "json" || w.Format == "template") {
			k.fail(key+".method", "get carries the fields in the query string, so it needs format form, not %s", w.Format)
		}
		if w.Format == "template" && w.Template == "" {
			k.fail(key+".template", "format template requires a template")
		} else if w.Format != "template" && w.ContentType != "" {
			k.fail(key+".content_type", "only goes with format template, not %s", w.Format)
		}
		if w.MaxBody < 1 || w.MaxBody > MaxMaxBody {
			k.fail(key+".max_body", "must be between 1B and %s, got %s", MaxMaxBody, w.MaxBody)
		}
		for _, name := range slices.Sorted(maps.Keys(w.CustomData)) {
			if name == "" || slices.Contains(reservedFields, name) {
				k.fail(key+".custom_data."+name, "field name %q is empty or reserved for simhook's own fields", name)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(w.Headers)) {
			if err := webhook.CheckHeader(name, w.Headers[name]); err != nil {
				k.fail(key+".headers."+name, "%v", err)
			}
		}
		positive(k, key+".timeout", w.Timeout)
		positive(k, key+".retry.initial", w.Retry.Initial)
		positive(k, key+".retry.max_interval", w.Retry.MaxInterval)
		positive(k, key+".retry.max_age", w.Retry.MaxAge)
		if w.Retry.Initial.Duration > w.Retry.MaxInterval.Duration {
			k.fail(key+".retry.initial", "must not exceed retry.max_interval (%s), got %s", w.Retry.MaxInterval, w.Retry.Initial)
		}
		switch {
		case len(k.errs.list) == before && len(w.AllSecrets()) > 0:
			checkEndpoint(k, key, w.Endpoint())
		case w.Format == "template" && w.Template != "":
			checkEndpoint(k, key, templateEndpoint(w))
		}
	}
}

// checkEndpoint builds the endpoint e with webhook.NewEncoder, as the agent
// does, so that whatever the agent would refuse is refused here too, at the
// setting's key; it is the one place a template and its content_type are
// checked. It runs on the webhook's endpoint when the webhook passed every
// other check (a problem already reported would only be reported twice) and
// has its secrets (a missing secret file is reported where it is read);
// otherwise on its templateEndpoint, so that a template's problems are
// reported with the others. NewEncoder stops at the first problem: after a
// template's, the endpoint is built again with a plain-text template so that
// the settings checked after it (content_type first) are checked too.
func checkEndpoint(k *checker, key string, e webhook.Endpoint) {
	for {
		_, err := webhook.NewEncoder(e)
		if err == nil {
			return
		}
		var ee *webhook.EndpointError
		if !errors.As(err, &ee) {
			k.fail(key, "%v", err)
			return
		}
		k.fail(key+"."+ee.Setting, "%v", ee.Err)
		if ee.Setting != "template" || e.Template == plainTemplate {
			return
		}
		e.Template = plainTemplate
	}
}

// plainTemplate stands in for a template already reported, so that the
// settings checked after it are checked too.
const plainTemplate = "-"

// templateEndpoint returns the endpoint of a template webhook with only its
// template settings (format, template and content_type) taken from w and
// placeholders for the rest, so that a webhook whose other settings have
// problems still has its template checked.
func templateEndpoint(w Webhook) webhook.Endpoint {
	return webhook.Endpoint{
		Name:        w.Name,
		URL:         "https://template.check.invalid/",
		Secrets:     []string{"template-check"},
		Format:      w.Format,
		Template:    w.Template,
		ContentType: w.ContentType,
	}
}

func validateURL(k *checker, key, raw string) {
	if raw == "" {
		k.fail(key, "must not be empty")
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		k.fail(key, "not a valid URL: %v", redact.Error(err))
	case u.Scheme != "http" && u.Scheme != "https":
		k.fail(key, "must be an absolute http:// or https:// URL, got %q", redact.URL(raw))
	case u.Host == "":
		k.fail(key, "has no host: %q", redact.URL(raw))
	case u.User != nil:
		k.fail(key, "must not carry credentials; use headers instead")
	default:
		for _, name := range reservedInQuery(u.RawQuery) {
			k.fail(key, "query parameter %q is one of simhook's own fields: a receiver that keeps the first value would read the URL's instead of simhook's; remove it from the URL", name)
		}
	}
}

// reservedInQuery returns, in order of appearance and once each, the
// reserved field names that a raw query string holds as parameter names.
// simhook appends its own fields after a URL's query (GET) or sends them in
// the body (POST), so a receiver that keeps the first value of a name, or
// merges the query with the form (PHP's $_REQUEST, Flask's request.values),
// would take the URL's value for simhook's: such URLs are refused whatever
// the method. Names are unescaped, and both "&" and ";" count as separators,
// as some receivers' parsers split on either.
func reservedInQuery(rawQuery string) []string {
	var found []string
	for _, pair := range strings.FieldsFunc(rawQuery, func(r rune) bool { return r == '&' || r == ';' }) {
		name, _, _ := strings.Cut(pair, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if slices.Contains(reservedFields, name) && !slices.Contains(found, name) {
			found = append(found, name)
		}
	}
	return found
}

func validateSecrets(k *checker, key string, w Webhook) {
	if w.Secret == "" && w.SecretFile == "" && len(w.Secrets) == 0 {
		k.fail(key, "a webhook needs a secret: set secret, secret_file or secrets")
	}
	check := func(sk, s string) {
		if s == "" {
			k.fail(sk, "a secret must not be empty")
			return
		}
		if _, err := webhook.SecretKey(s); err != nil {
			if strings.HasPrefix(s, webhook.WhsecPrefix) {
				k.fail(sk, "a whsec_ secret must be followed by base64 (padded or not) of a non-empty key")
			} else {
				k.fail(sk, "%v", err)
			}
		}
	}
	if w.Secret != "" {
		sk := key + ".secret"
		if w.SecretFile != "" {
			sk = key + ".secret_file"
		}
		check(sk, w.Secret)
	}
	for j, s := range w.Secrets {
		check(fmt.Sprintf("%s.secrets[%d]", key, j), s)
	}
}

func validateThreshold(k *checker, key string, t Threshold) {
	if math.IsNaN(t.Rate) || t.Rate <= 0 || t.Rate > 1 {
		k.fail(key+".rate", "must be in (0, 1], got %v", t.Rate)
	}
	if t.MinVolume < 1 {
		k.fail(key+".min_volume", "must be at least 1, got %d", t.MinVolume)
	}
	positive(k, key+".period", t.Period)
	if t.Grace.Duration < 0 {
		k.fail(key+".grace", "must not be negative, got %s", t.Grace)
	} else if t.Grace.Duration >= t.Period.Duration && t.Period.Duration > 0 {
		k.fail(key+".grace", "must be shorter than period (%s), got %s", t.Period, t.Grace)
	}
}

// validateSending checks a phone's limits, send gap, allowed prefixes and
// balance check.
func validateSending(k *checker, key string, p Phone) {
	for _, l := range []struct {
		name string
		v    int
	}{{"minute", p.Limits.Minute}, {"hour", p.Limits.Hour}, {"day", p.Limits.Day}} {
		if l.v < 0 {
			k.fail(key+".limits."+l.name, "must be 0 (no limit) or a positive number of parts, got %d", l.v)
		}
	}
	if !dayResetRe.MatchString(p.Limits.DayReset) {
		k.fail(key+".limits.day_reset", "must be a time of day HH:MM (24-hour), got %q", p.Limits.DayReset)
	}
	if p.SendGap.Min.Duration < 0 {
		k.fail(key+".send_gap.min", "must not be negative, got %s", p.SendGap.Min.Duration)
	}
	if p.SendGap.Max.Duration < p.SendGap.Min.Duration {
		k.fail(key+".send_gap.max", "must be at least send_gap.min (%s), got %s", p.SendGap.Min.Duration, p.SendGap.Max.Duration)
	}
	for j, prefix := range p.Allow {
		if !allowRe.MatchString(prefix) {
			k.fail(fmt.Sprintf("%s.allow[%d]", key, j), "must be a number prefix such as \"+33\" (digits, optionally after +), got %q", prefix)
		}
	}
	if p.Balance.Code != "" {
		if !ussdRe.MatchString(p.Balance.Code) {
			k.fail(key+".balance.code", "must be a USSD code of digits, * and # such as \"*100#\", got %q", p.Balance.Code)
		}
		atLeast(k, key+".balance.every", p.Balance.Every, time.Minute)
	}
	if p.Balance.Pattern != "" {
		if _, err := regexp.Compile(p.Balance.Pattern); err != nil {
			k.fail(key+".balance.pattern", "not a valid regular expression: %v", err)
		}
	}
}

var (
	dayResetRe = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	allowRe    = regexp.MustCompile(`^\+?[0-9]{1,15}$`)
	ussdRe     = regexp.MustCompile(`^[0-9*#]{1,160}$`)
)
