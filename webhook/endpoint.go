package webhook

import (
	"errors"
	"fmt"
	"maps"
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
	// ContentType is the template body's Content-Type; the default is
	// "application/json".
	ContentType string
	// CustomData are extra static fields: extra form or query fields after
	// the five, or extra top-level keys in the JSON object. They cannot
	// replace the five fields.
	CustomData map[string]string
	// Headers are extra static request headers. They cannot replace
	// Content-Type, Content-Length or the webhook-* headers; a User-Agent here
	// replaces the default one.
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
	custom         []field // sorted by name
	headers        http.Header
}

type field struct{ name, value string }

// check validates e and returns its canonical form.
func (e Endpoint) check() (normalized, error) {
	var n normalized
	n.method = strings.ToLower(strings.TrimSpace(e.Method))
	if n.method == "" {
		n.method = MethodPost
	}
	if n.method != MethodPost && n.method != MethodGet {
		return n, fmt.Errorf("method %q: want post or get", e.Method)
	}
	n.format = strings.ToLower(strings.TrimSpace(e.Format))
	if n.format == "" {
		n.format = FormatForm
	}
	switch n.format {
	case FormatForm, FormatJSON, FormatTemplate:
	default:
		return n, fmt.Errorf("format %q: want form, json or template", e.Format)
	}
	if n.method == MethodGet && n.format != FormatForm {
		return n, fmt.Errorf("method get sends the fields in the query string: format %s needs method post", n.format)
	}
	// Errors do not quote the URL: it may carry credentials.
	u, err := url.Parse(e.URL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return n, fmt.Errorf("url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return n, errors.New("url: want an absolute http:// or https:// address")
	}
	n.url = u
	if len(e.Secrets) == 0 {
		return n, fmt.Errorf("no secret: every request is signed")
	}
	for i, s := range e.Secrets {
		k, err := SecretKey(s)
		if err != nil {
			return n, fmt.Errorf("secret #%d: %w", i+1, err)
		}
		n.keys = append(n.keys, k)
	}
	if n.format == FormatTemplate {
		if strings.TrimSpace(e.Template) == "" {
			return n, fmt.Errorf("format template needs a template")
		}
		n.tmpl, err = parseTemplate(e.Name, e.Template)
		if err != nil {
			return n, err
		}
		n.contentType = e.ContentType
		if n.contentType == "" {
			n.contentType = DefaultTemplateContentType
		}
	} else if e.Template != "" || e.ContentType != "" {
		return n, fmt.Errorf("template and content_type only go with format template, not %s", n.format)
	}
	for name := range e.CustomData {
		if name == "" {
			return n, fmt.Errorf("custom_data has an empty field name")
		}
		if reservedField(name) {
			return n, fmt.Errorf("custom_data %q would replace one of the five webhook fields", name)
		}
	}
	n.custom = sortedFields(e.CustomData)
	n.headers = make(http.Header, len(e.Headers))
	for name, value := range e.Headers {
		if !validHeaderName(name) {
			return n, fmt.Errorf("header name %q is not a valid HTTP header name", name)
		}
		if strings.ContainsAny(value, "\r\n\x00") {
			return n, fmt.Errorf("header %s: value has a line break or NUL", name)
		}
		switch strings.ToLower(name) {
		case HeaderID, HeaderTimestamp, HeaderSignature, "content-type", "content-length", "transfer-encoding", "host":
			return n, fmt.Errorf("header %s is set by simhook and cannot be configured", name)
		}
		n.headers.Set(name, value)
	}
	return n, nil
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
