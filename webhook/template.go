package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/template"
)

// TemplateData is what an endpoint's template renders, as its dot:
//
//	{{.Type}}       the event type, e.g. receive_sms
//	{{.Timestamp}}  webhook_timestamp, Unix seconds
//	{{.RandomID}}   webhook_random_id
//	{{.Endpoint}}   the endpoint's name
//	{{.Body.text}}  a field of the event body (a map decoded from its JSON;
//	                numbers keep their JSON spelling)
//	{{.BodyJSON}}   the event body as compact JSON, to embed as it is
//	{{.Custom.k}}   a custom_data value
//
// Functions, besides text/template's own:
//
//	json       a value as JSON: {"text":{{json .Body.text}}} gives a quoted, escaped string
//	jsonEscape a string's JSON escaping without the quotes, for use inside a JSON string literal
//
// Template output is not escaped by itself: use json or jsonEscape for
// values in a JSON body. The output is capped (see Endpoint.MaxBody):
// rendering stops with ErrBodyTooLarge as soon as it passes the cap.
type TemplateData struct {
	Type      Type
	Timestamp int64
	RandomID  string
	Endpoint  string
	Body      map[string]any
	BodyJSON  string
	Custom    map[string]string
}

// templateFuncs are the functions templates may call.
var templateFuncs = template.FuncMap{
	"json":       templateJSON,
	"jsonEscape": jsonEscape,
}

// DefaultMaxBody is the cap on a rendered template body, in bytes, when
// the endpoint sets none.
const DefaultMaxBody = 1 << 20

// ErrBodyTooLarge is wrapped by the error of a template that renders more
// than its endpoint's MaxBody.
var ErrBodyTooLarge = errors.New("the rendered body is larger than max_body")

// ParseTemplate compiles a template with the functions templates may call
// (json, jsonEscape), exactly as NewEncoder does, so that a template checked
// on its own is one that renders.
func ParseTemplate(name, src string) (*template.Template, error) {
	return template.New(name).Funcs(templateFuncs).Parse(src)
}

// templateJSON encodes v as JSON, without HTML escaping. A nil or missing
// value gives null.
func templateJSON(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// jsonEscape returns the JSON escaping of v's text (fmt's %v for non-strings)
// without the surrounding quotes.
func jsonEscape(v any) (string, error) {
	var s string
	switch x := v.(type) {
	case nil:
		s = ""
	case string:
		s = x
	default:
		s = fmt.Sprint(x)
	}
	q, err := templateJSON(s)
	if err != nil {
		return "", err
	}
	return q[1 : len(q)-1], nil
}

// cappedBuffer collects a template's output and fails the write that would
// take it past max bytes, which stops the template's execution there.
type cappedBuffer struct {
	buf bytes.Buffer
	max int
}

// Write appends p, or fails without writing when p does not fit.
func (c *cappedBuffer) Write(p []byte) (int, error) {
	if len(p) > c.max-c.buf.Len() {
		return 0, fmt.Errorf("%w (%d bytes): the template renders too much; check its range loops", ErrBodyTooLarge, c.max)
	}
	return c.buf.Write(p)
}

// renderTemplate executes t for m, stopping with ErrBodyTooLarge as soon as
// the output passes max bytes.
func renderTemplate(t *template.Template, endpoint string, custom []field, m Message, max int) ([]byte, error) {
	d := TemplateData{Type: m.Type, Timestamp: m.Timestamp, RandomID: m.RandomID, Endpoint: endpoint,
		BodyJSON: string(compactBody(m.Body)), Custom: make(map[string]string, len(custom))}
	dec := json.NewDecoder(bytes.NewReader(m.Body))
	dec.UseNumber()
	if err := dec.Decode(&d.Body); err != nil {
		return nil, fmt.Errorf("template: the event body is not a JSON object: %w", err)
	}
	for _, f := range custom {
		d.Custom[f.name] = f.value
	}
	out := cappedBuffer{max: max}
	if err := t.Execute(&out, d); err != nil {
		// Execution errors name the template already ("template: name:1:2: ...").
		return nil, err
	}
	return out.buf.Bytes(), nil
}
