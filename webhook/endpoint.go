package webhook

import (
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/template"
)

// Endpoint is how one receiver wants its requests, as configured.
type Endpoint struct {
	// Name identifies the endpoint in logs and errors.
	Name string
	// URL is the absolute http or https address requests go to. For GET, a
	// query string already in it is kept, and the fields follow it.
	URL string
	// Method is "post" (the default when empty) or "get", in any case.
	Method string
	// Format is "form" (the default when empty), "json" or "template", in
	// any case. GET only goes with "form".
	Format string
	// Template is the text/template source of the whole request body when
	// Format is "template"; see TemplateData for what it can use.
	Template string
	// ContentType is the template body's Content-Type, a media type such as
	// "text/plain; charset=utf-8"; the default is "application/json".
	ContentType string
	// MaxBody caps a template body, in bytes: rendering stops with an error
	// wrapping ErrBodyTooLarge as soon as the output passes it. 0 means
	// DefaultMaxBody (1 MiB). Form and JSON bodies are the event itself and
	// are not capped.
	MaxBody int
	// CustomData are extra static fields: extra form or query fields after
	// the five, or extra top-level keys in the JSON object. They cannot
	// replace the five fields.
	CustomData map[string]string
	// Headers are extra static request headers; see CheckHeader for what
	// they may hold. A User-Agent here replaces the default one.
	Headers map[string]string
	// Secrets are the endpoint's secrets, current first. The legacy
	// webhook_signature uses Secrets[0]; the webhook-signature header carries
	// one v1 signature per secret (several while rotating). At least one is
	// required.
	Secrets []string
}

// clone returns e with its own maps and slice, so the caller's later changes
// do not reach an Encoder.
func (e Endpoint) clone() Endpoint {
	e.CustomData = maps.Clone(e.CustomData)
	e.Headers = maps.Clone(e.Headers)
	e.Secrets = slices.Clone(e.Secrets)
	return e
}

// The request shapes an Endpoint can ask for.
const (
	MethodPost     = "post"
	MethodGet      = "get"
	FormatForm     = "form"
	FormatJSON     = "json"
	FormatTemplate = "template"
)

// DefaultTemplateContentType is a template body's Content-Type unless the
// endpoint says otherwise.
const DefaultTemplateContentType = "application/json"

// The five field names of SPEC §2.
const (
	FieldTimestamp = "webhook_timestamp"
	FieldRandomID  = "webhook_random_id"
	FieldSignature = "webhook_signature"
	FieldType      = "webhook_type"
	FieldBody      = "body"
)

// normalized is the checked, canonical form of an Endpoint's choices.
type normalized struct {
	method, format string
	url            *url.URL
	keys           [][]byte
	tmpl           *template.Template
	contentType    string
	maxBody        int
	custom         []field // sorted by name
	headers        http.Header
}

type field struct{ name, value string }

// EndpointError is a problem with one setting of an Endpoint; NewEncoder's
// errors wrap one, so that a configuration check can point at the setting.
type EndpointError struct {
	// Setting names the setting as the configuration file does: "url",
	// "method", "format", "template", "content_type", "max_body",
	// "secrets", "custom_data.<name>" or "headers.<name>".
	Setting string
	// Err is what is wrong with it.
	Err error
}

// Error returns the problem; the setting is for programs.
func (e *EndpointError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying problem.
func (e *EndpointError) Unwrap() error { return e.Err }

// settingError wraps a problem with one setting.
func settingError(setting, format string, args ...any) error {
	return &EndpointError{Setting: setting, Err: fmt.Errorf(format, args...)}
}

// check validates e and returns its canonical form.
func (e Endpoint) check() (normalized, error) {
	var n normalized
	n.method = strings.ToLower(strings.TrimSpace(e.Method))
	if n.method == "" {
		n.method = MethodPost
	}
	if n.method != MethodPost && n.method != MethodGet {
		return n, settingError("method", "method %q: want post or get", e.Method)
	}
	n.format = strings.ToLower(strings.TrimSpace(e.Format))
	if n.format == "" {
		n.format = FormatForm
	}
	switch n.format {
	case FormatForm, FormatJSON, FormatTemplate:
	default:
		return n, settingError("format", "format %q: want form, json or template", e.Format)
	}
	if n.method == MethodGet && n.format != FormatForm {
		return n, settingError("method", "method get sends the fields in the query string: format %s needs method post", n.format)
	}
	// Errors do not quote the URL: it may carry credentials.
	u, err := url.Parse(e.URL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return n, &EndpointError{Setting: "url", Err: fmt.Errorf("url: %w", err)}
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return n, settingError("url", "url: want an absolute http:// or https:// address")
	}
	n.url = u
	if len(e.Secrets) == 0 {
		return n, settingError("secrets", "no secret: every request is signed")
	}
	for i, s := range e.Secrets {
		k, err := SecretKey(s)
		if err != nil {
			return n, &EndpointError{Setting: "secrets", Err: fmt.Errorf("secret #%d: %w", i+1, err)}
		}
		n.keys = append(n.keys, k)
	}
	if e.MaxBody < 0 {
		return n, settingError("max_body", "max_body %d: want a positive number of bytes (0 for the default)", e.MaxBody)
	}
	n.maxBody = e.MaxBody
	if n.maxBody == 0 {
		n.maxBody = DefaultMaxBody
	}
	if n.format == FormatTemplate {
		if strings.TrimSpace(e.Template) == "" {
			return n, settingError("template", "format template needs a template")
		}
		n.tmpl, err = ParseTemplate(e.Name, e.Template)
		if err != nil {
			return n, &EndpointError{Setting: "template", Err: fmt.Errorf("does not parse as a Go text/template: %w", err)}
		}
		n.contentType = e.ContentType
		if n.contentType == "" {
			n.contentType = DefaultTemplateContentType
		}
		if err := CheckContentType(n.contentType); err != nil {
			return n, &EndpointError{Setting: "content_type", Err: err}
		}
	} else if e.Template != "" || e.ContentType != "" {
		setting := "template"
		if e.Template == "" {
			setting = "content_type"
		}
		return n, settingError(setting, "template and content_type only go with format template, not %s", n.format)
	}
	for name := range e.CustomData {
		if name == "" {
			return n, settingError("custom_data", "custom_data has an empty field name")
		}
		if reservedField(name) {
			return n, settingError("custom_data."+name, "custom_data %q would replace one of the five webhook fields", name)
		}
	}
	n.custom = sortedFields(e.CustomData)
	n.headers = make(http.Header, len(e.Headers))
	for _, name := range slices.Sorted(maps.Keys(e.Headers)) {
		value := e.Headers[name]
		if err := CheckHeader(name, value); err != nil {
			return n, &EndpointError{Setting: "headers." + name, Err: err}
		}
		if _, dup := n.headers[http.CanonicalHeaderKey(name)]; dup {
			return n, settingError("headers."+name, "header %s is given twice (header names ignore case)", name)
		}
		n.headers.Set(name, value)
	}
	return n, nil
}

// CheckHeader reports whether an extra header can be sent as configured:
// its name must be an HTTP token, and not one of the headers simhook sets
// itself (Content-Type, Content-Length, Transfer-Encoding, Host, the
// webhook-* headers); its value must hold no control character but tab
// (no CR, LF, NUL or DEL), which Go's HTTP client would refuse on every
// request.
func CheckHeader(name, value string) error {
	if !validHeaderName(name) {
		return fmt.Errorf("header name %q is not a valid HTTP header name", name)
	}
	switch strings.ToLower(name) {
	case HeaderID, HeaderTimestamp, HeaderSignature, "content-type", "content-length", "transfer-encoding", "host":
		return fmt.Errorf("header %s is set by simhook and cannot be configured", name)
	}
	if i := controlChar(value); i >= 0 {
		return fmt.Errorf("header %s: the value has a control character (%q at byte %d): only tab is allowed", name, value[i], i)
	}
	return nil
}

// controlChar returns the index of the first control character of s other
// than tab (so any CR, LF, NUL or DEL), or -1 if it has none: Go's HTTP
// client refuses such a header value on every request.
func controlChar(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return i
		}
	}
	return -1
}

// CheckContentType reports whether ct can be a template body's
// Content-Type: a media type with optional parameters, as in
// "text/plain; charset=utf-8".
func CheckContentType(ct string) error {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("content_type %q is not a media type such as application/json: %w", ct, err)
	}
	if !strings.Contains(mt, "/") {
		return fmt.Errorf("content_type %q is not a media type such as application/json: it has no subtype", ct)
	}
	if controlChar(ct) >= 0 {
		return fmt.Errorf("content_type %q has a control character", ct)
	}
	return nil
}

func reservedField(name string) bool {
	switch name {
	case FieldTimestamp, FieldRandomID, FieldSignature, FieldType, FieldBody:
		return true
	}
	return false
}

func sortedFields(m map[string]string) []field {
	out := make([]field, 0, len(m))
	for k, v := range m {
		out = append(out, field{k, v})
	}
	for i := 1; i < len(out); i++ { // insertion sort: a handful of fields
		for j := i; j > 0 && out[j].name < out[j-1].name; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
