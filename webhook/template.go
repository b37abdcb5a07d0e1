package webhook

import (
	"bytes"
	"encoding/json"
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
// values in a JSON body.
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

// parseTemplate compiles an endpoint's template once.
func parseTemplate(name, src string) (*template.Template, error) {
	t, err := template.New(name).Funcs(templateFuncs).Parse(src)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	return t, nil
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

// renderTemplate executes t for m.
func renderTemplate(t *template.Template, endpoint string, custom []field, m Message) ([]byte, error) {
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
	var out bytes.Buffer
	if err := t.Execute(&out, d); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	return out.Bytes(), nil
}
