package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"time"
)

// UserAgent is the User-Agent of every request whose endpoint does not set
// one. The agent sets it to "simhook/<version>" at start-up; the default
// reads the version from the build information.
var UserAgent = "simhook/" + buildVersion()

func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// Encoder turns Messages into the HTTP requests of one Endpoint. It is the
// Endpoint validated and compiled (its template parsed once) and is safe for
// concurrent use.
type Encoder struct {
	name     string
	endpoint Endpoint
	n        normalized
}

// NewEncoder validates e and returns its Encoder. The error names the
// endpoint and what is wrong with it.
func NewEncoder(e Endpoint) (*Encoder, error) {
	n, err := e.check()
	if err != nil {
		return nil, fmt.Errorf("webhook: endpoint %q: %w", e.Name, err)
	}
	return &Encoder{name: e.Name, endpoint: e.clone(), n: n}, nil
}

// Endpoint returns a copy of the endpoint the Encoder was made from.
func (e *Encoder) Endpoint() Endpoint {
	c := e.endpoint
	c.CustomData = maps.Clone(c.CustomData)
	c.Headers = maps.Clone(c.Headers)
	c.Secrets = slices.Clone(c.Secrets)
	return c
}

// Name returns the endpoint's name.
func (e *Encoder) Name() string { return e.name }

// Method returns the HTTP method requests use ("POST" or "GET").
func (e *Encoder) Method() string {
	if e.n.method == MethodGet {
		return http.MethodGet
	}
	return http.MethodPost
}

// Format returns the canonical format: "form", "json" or "template".
func (e *Encoder) Format() string { return e.n.format }

// NewRequest builds the exact HTTP request of one delivery attempt of m,
// made at attempt:
//
//   - form (POST): application/x-www-form-urlencoded body with, in this order,
//     webhook_timestamp, webhook_random_id, webhook_signature, webhook_type,
//     body (the event as a JSON string), then the custom_data fields sorted
//     by name;
//   - get: the same fields as the query string (after any query in the URL),
//     no body;
//   - json: an application/json object with the same five fields, body as a
//     nested object, webhook_timestamp a number, then the custom_data keys;
//   - template: the rendered template, with the endpoint's content type.
//
// Every request carries the Standard Webhooks headers: webhook-id (the
// random id), webhook-timestamp (attempt, in Unix seconds: fresh on every
// retry) and webhook-signature (one "v1," signature per secret over the
// exact bytes sent: the body, or for GET the raw query string), plus the
// endpoint's headers and a User-Agent. The request's body can be re-read
// (GetBody is set), so a client may follow redirects.
func (e *Encoder) NewRequest(ctx context.Context, m Message, attempt time.Time) (*http.Request, error) {
	if err := checkMessage(m); err != nil {
		return nil, fmt.Errorf("webhook: endpoint %q: %w", e.name, err)
	}
	if attempt.IsZero() {
		return nil, fmt.Errorf("webhook: endpoint %q: no attempt time", e.name)
	}
	var body []byte
	var contentType string
	u := *e.n.url
	switch e.n.format {
	case FormatForm:
		fields := e.formFields(m)
		if e.n.method == MethodGet {
			if u.RawQuery != "" {
				fields = append([]byte(u.RawQuery+"&"), fields...)
			}
			u.RawQuery = string(fields)
			u.ForceQuery = false
		} else {
			body, contentType = fields, "application/x-www-form-urlencoded"
		}
	case FormatJSON:
		var err error
		if body, err = e.jsonObject(m); err != nil {
			return nil, fmt.Errorf("webhook: endpoint %q: %w", e.name, err)
		}
		contentType = "application/json"
	case FormatTemplate:
		var err error
		if body, err = renderTemplate(e.n.tmpl, e.name, e.n.custom, m, e.n.maxBody); err != nil {
			return nil, fmt.Errorf("webhook: endpoint %q: %w", e.name, err)
		}
		contentType = e.n.contentType
	}
	signed := body
	if e.n.method == MethodGet {
		signed = []byte(u.RawQuery)
	}
	var req *http.Request
	var err error
	if e.n.method == MethodGet {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	}
	if err != nil {
		return nil, fmt.Errorf("webhook: endpoint %q: %w", e.name, err)
	}
	for name, values := range e.n.headers {
		req.Header[name] = append([]string(nil), values...)
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", UserAgent)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	ts := attempt.Unix()
	req.Header.Set(HeaderID, m.RandomID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, signatureHeader(e.n.keys, m.RandomID, ts, signed))
	return req, nil
}

// checkMessage rejects a message that cannot be sent as it is.
func checkMessage(m Message) error {
	if !m.Type.Valid() {
		return fmt.Errorf("event type %q is not one of the five", m.Type)
	}
	if m.RandomID == "" {
		return fmt.Errorf("the message has no random id")
	}
	if !json.Valid(m.Body) {
		return fmt.Errorf("%s body is not valid JSON", m.Type)
	}
	if firstNonSpace(m.Body) != '{' {
		return fmt.Errorf("%s body is not a JSON object", m.Type)
	}
	return nil
}

func firstNonSpace(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

// compactBody returns the body without insignificant white space, as it is
// when it comes from json.Marshal.
func compactBody(b []byte) []byte {
	var out bytes.Buffer
	if json.Compact(&out, b) != nil {
		return b
	}
	return out.Bytes()
}

// formFields encodes the five fields and the custom data as a query string.
func (e *Encoder) formFields(m Message) []byte {
	body := compactBody(m.Body)
	b := make([]byte, 0, 160+len(body)*2)
	add := func(name, value string) {
		if len(b) > 0 {
			b = append(b, '&')
		}
		b = append(b, url.QueryEscape(name)...)
		b = append(b, '=')
		b = append(b, url.QueryEscape(value)...)
	}
	add(FieldTimestamp, strconv.FormatInt(m.Timestamp, 10))
	add(FieldRandomID, m.RandomID)
	add(FieldSignature, LegacySignature(e.endpoint.Secrets[0], m.RandomID))
	add(FieldType, string(m.Type))
	add(FieldBody, string(body))
	for _, f := range e.n.custom {
		add(f.name, f.value)
	}
	return b
}

// jsonObject encodes the five fields and the custom data as one JSON object.
func (e *Encoder) jsonObject(m Message) ([]byte, error) {
	body := compactBody(m.Body)
	var b bytes.Buffer
	b.Grow(200 + len(body))
	b.WriteString(`{"webhook_timestamp":`)
	b.WriteString(strconv.FormatInt(m.Timestamp, 10))
	b.WriteString(`,"webhook_random_id":`)
	writeJSONString(&b, m.RandomID)
	b.WriteString(`,"webhook_signature":`)
	writeJSONString(&b, LegacySignature(e.endpoint.Secrets[0], m.RandomID))
	b.WriteString(`,"webhook_type":`)
	writeJSONString(&b, string(m.Type))
	b.WriteString(`,"body":`)
	b.Write(body)
	for _, f := range e.n.custom {
		b.WriteByte(',')
		writeJSONString(&b, f.name)
		b.WriteByte(':')
		writeJSONString(&b, f.value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// writeJSONString writes s as a JSON string, without HTML escaping.
func writeJSONString(b *bytes.Buffer, s string) {
	q, _ := templateJSON(s) // a string always encodes
	b.WriteString(q)
}
