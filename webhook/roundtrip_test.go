package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// eventMessage returns the testdata/events body of typ as a Message that
// happened at happened.
func eventMessage(t testing.TB, typ Type, happened int64) Message {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "events", string(typ)+".json"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := NewRandomID(happened)
	if err != nil {
		t.Fatal(err)
	}
	return Message{Type: typ, Timestamp: happened, RandomID: id, Body: raw}
}

// typedBody returns the typed body ParseRequest filled for ev's type.
func typedBody(ev *Event) any {
	switch ev.Type {
	case ReceiveSMS:
		return ev.ReceiveSMS
	case SendSMS:
		return ev.SendSMS
	case SendSMSStatusChange:
		return ev.StatusChange
	case InboundCall:
		return ev.InboundCall
	case PhoneReliability:
		return ev.PhoneReliability
	}
	return nil
}

// sameJSON reports whether two JSON texts hold the same value, key order aside.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

// TestEveryTypeEveryFormat encodes each of the five events in each shape,
// with custom data and headers, parses the request back and checks that
// every field, the raw body and the typed body (re-encoded) equal what was
// sent, and that the typed body is the only one set.
func TestEveryTypeEveryFormat(t *testing.T) {
	shapes := []struct{ method, format, contentType string }{
		{"post", "form", "application/x-www-form-urlencoded"},
		{"get", "form", ""},
		{"post", "json", "application/json"},
	}
	custom := map[string]string{"site": "paris", "odd key": "a&b=c d+é"}
	attempt := time.Unix(1763809200, 0)
	for _, s := range shapes {
		for _, typ := range Types() {
			t.Run(s.method+"/"+s.format+"/"+string(typ), func(t *testing.T) {
				m := eventMessage(t, typ, attempt.Unix()-3600)
				e := Endpoint{Name: "t", URL: "http://127.0.0.1/hook", Method: s.method, Format: s.format,
					CustomData: custom, Headers: map[string]string{"X-Tenant": "42", "Authorization": "Bearer x"},
					Secrets: []string{testSecret}}
				req, body, ev := roundTrip(t, e, m, attempt)
				if req.Header.Get("Content-Type") != s.contentType || req.Header.Get("X-Tenant") != "42" ||
					req.Header.Get("Authorization") != "Bearer x" {
					t.Errorf("headers %v", req.Header)
				}
				if s.method == "get" && (len(body) != 0 || req.Method != http.MethodGet) {
					t.Errorf("GET with a body %q", body)
				}
				if ev.Type != typ || ev.Timestamp != m.Timestamp || ev.RandomID != m.RandomID ||
					ev.Signature != LegacySignature(testSecret, m.RandomID) {
					t.Errorf("fields %+v", ev)
				}
				if !reflect.DeepEqual(ev.Custom, custom) {
					t.Errorf("custom %v, want %v", ev.Custom, custom)
				}
				if !sameJSON(t, ev.Body, m.Body) {
					t.Errorf("body %s, want %s", ev.Body, m.Body)
				}
				typed := typedBody(ev)
				if typed == nil || reflect.ValueOf(typed).IsNil() {
					t.Fatalf("no typed body for %s", typ)
				}
				again, err := json.Marshal(typed)
				if err != nil {
					t.Fatal(err)
				}
				if !sameJSON(t, again, m.Body) {
					t.Errorf("typed body re-encodes as %s, want %s", again, m.Body)
				}
				set := 0
				for _, p := range []any{ev.ReceiveSMS, ev.SendSMS, ev.StatusChange, ev.InboundCall, ev.PhoneReliability} {
					if !reflect.ValueOf(p).IsNil() {
						set++
					}
				}
				if set != 1 {
					t.Errorf("%d typed bodies set", set)
				}
			})
		}
	}
}

// TestWireBytes pins the exact bytes of each shape for one message, so a
// change of field order, escaping or number format shows.
func TestWireBytes(t *testing.T) {
	m := Message{Type: ReceiveSMS, Timestamp: 1700000000, RandomID: "1700000000-abababababababababababababababab",
		Body: []byte(`{"id":42, "at":"2023-11-14 23:13:20","text":"Hello <&> é","destination":1,"origin":"+33612345678","command":false,"mms":false,"medias":[]}`)}
	const sig = "5ad99f737c4c2487cf244480463ea9a72e1b68d471ae25e52fc497cb4ad832e2"
	const form = "webhook_timestamp=1700000000&webhook_random_id=1700000000-abababababababababababababababab" +
		"&webhook_signature=" + sig + "&webhook_type=receive_sms" +
		"&body=%7B%22id%22%3A42%2C%22at%22%3A%222023-11-14+23%3A13%3A20%22%2C%22text%22%3A%22Hello+%3C%26%3E+%C3%A9%22%2C" +
		"%22destination%22%3A1%2C%22origin%22%3A%22%2B33612345678%22%2C%22command%22%3Afalse%2C%22mms%22%3Afalse%2C%22medias%22%3A%5B%5D%7D"
	tests := []struct {
		name, method, format, url string
		custom                    map[string]string
		wantURL, wantBody         string
	}{
		{"form", "", "", "http://h/hook", nil, "http://h/hook", form},
		{"form with custom data", "post", "form", "http://h/hook", map[string]string{"z": "1", "a": "x y"},
			"http://h/hook", form + "&a=x+y&z=1"},
		{"get keeps the URL's query", "get", "", "http://h/hook?k=v", nil, "http://h/hook?k=v&" + form, ""},
		{"json", "post", "json", "http://h/hook", map[string]string{"site": "<paris>"}, "http://h/hook",
			`{"webhook_timestamp":1700000000,"webhook_random_id":"1700000000-abababababababababababababababab",` +
				`"webhook_signature":"` + sig + `","webhook_type":"receive_sms",` +
				`"body":{"id":42,"at":"2023-11-14 23:13:20","text":"Hello <&> é","destination":1,"origin":"+33612345678","command":false,"mms":false,"medias":[]},` +
				`"site":"<paris>"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := NewEncoder(Endpoint{URL: tt.url, Method: tt.method, Format: tt.format, CustomData: tt.custom,
				Secrets: []string{"0123456789abcdef0123456789abcdef"}})
			if err != nil {
				t.Fatal(err)
			}
			req, err := enc.NewRequest(context.Background(), m, time.Unix(1700000007, 0))
			if err != nil {
				t.Fatal(err)
			}
			var body []byte
			if req.Body != nil {
				body, _ = io.ReadAll(req.Body)
			}
			if req.URL.String() != tt.wantURL || string(body) != tt.wantBody {
				t.Errorf("url %s\nbody %s\nwant url %s\nbody %s", req.URL, body, tt.wantURL, tt.wantBody)
			}
			if req.ContentLength != int64(len(body)) {
				t.Errorf("ContentLength %d, body %d bytes", req.ContentLength, len(body))
			}
			if req.GetBody != nil {
				again, _ := req.GetBody()
				b, _ := io.ReadAll(again)
				if !bytes.Equal(b, body) {
					t.Error("GetBody gives other bytes")
				}
			}
		})
	}
}

// TestSlackTemplate renders a chat message whose values need JSON escaping,
// both ways the template functions allow.
func TestSlackTemplate(t *testing.T) {
	m := sampleMessage(t) // text: Hé "you" & 20€ 🚲\nbye
	tests := []struct{ name, tmpl string }{
		{"jsonEscape inside a literal", `{"text":"SMS from {{jsonEscape .Body.origin}}: {{jsonEscape .Body.text}}"}`},
		{"json of a printf", `{"text":{{json (printf "SMS from %s: %s" .Body.origin .Body.text)}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Endpoint{Name: "slack", URL: "https://hooks.example.com/x", Format: "template", Template: tt.tmpl,
				Headers: map[string]string{"X-Env": "test"}, Secrets: []string{testSecret}}
			req, body, ev := roundTrip(t, e, m, time.Unix(1763805600, 0))
			var msg struct{ Text string }
			if err := json.Unmarshal(body, &msg); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, body)
			}
			if want := "SMS from +33612345678: Hé \"you\" & 20€ 🚲\nbye"; msg.Text != want {
				t.Errorf("text %q, want %q", msg.Text, want)
			}
			if req.Header.Get("Content-Type") != "application/json" || req.Header.Get("X-Env") != "test" {
				t.Errorf("headers %v", req.Header)
			}
			if ev.Type != "" || !bytes.Equal(ev.Body, body) || ev.RandomID != m.RandomID {
				t.Errorf("event %+v", ev)
			}
		})
	}
}

// TestTemplateData checks every field a template can reach.
func TestTemplateData(t *testing.T) {
	m := eventMessage(t, SendSMS, 1763805600)
	e := Endpoint{Name: "ops", URL: "http://127.0.0.1/", Format: "template", ContentType: "text/plain; charset=utf-8",
		CustomData: map[string]string{"room": "#ops"}, Secrets: []string{testSecret},
		Template: `{{.Type}} {{.Timestamp}} {{.RandomID}} {{.Endpoint}} {{.Body.id}} {{.Body.originating_scheduled}} {{.Custom.room}} {{.BodyJSON}}`}
	req, body, _ := roundTrip(t, e, m, time.Unix(1763805600, 0))
	want := "send_sms 1763805600 " + m.RandomID + " ops 7 <no value> #ops " + string(compactBody(m.Body))
	if string(body) != want || req.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("rendered %q\nwant     %q (%s)", body, want, req.Header.Get("Content-Type"))
	}
}

// TestNewRequestRefuses checks messages that cannot be sent.
func TestNewRequestRefuses(t *testing.T) {
	enc, err := NewEncoder(Endpoint{URL: "http://127.0.0.1/", Secrets: []string{testSecret}})
	if err != nil {
		t.Fatal(err)
	}
	good := sampleMessage(t)
	tests := []struct {
		name   string
		change func(*Message)
	}{
		{"unknown type", func(m *Message) { m.Type = "sms" }},
		{"no random id", func(m *Message) { m.RandomID = "" }},
		{"body not JSON", func(m *Message) { m.Body = []byte(`{"id":`) }},
		{"body not an object", func(m *Message) { m.Body = []byte(`[1]`) }},
	}
	for _, tt := range tests {
		m := good
		tt.change(&m)
		if _, err := enc.NewRequest(context.Background(), m, time.Now()); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	if _, err := enc.NewRequest(context.Background(), good, time.Time{}); err == nil {
		t.Error("zero attempt time accepted")
	}
}

// TestEndpointChecks covers the refusals that protect the five fields and
// the signature headers.
func TestEndpointChecks(t *testing.T) {
	base := Endpoint{URL: "http://127.0.0.1/", Secrets: []string{"s"}}
	tests := []struct {
		name   string
		change func(*Endpoint)
		want   string // in the error; "" means accepted
	}{
		{"custom data replaces body", func(e *Endpoint) { e.CustomData = map[string]string{"body": "x"} }, "custom_data"},
		{"custom data replaces signature", func(e *Endpoint) { e.CustomData = map[string]string{"webhook_signature": "x"} }, "custom_data"},
		{"header replaces webhook-signature", func(e *Endpoint) { e.Headers = map[string]string{"Webhook-Signature": "x"} }, "cannot be configured"},
		{"header replaces content-type", func(e *Endpoint) { e.Headers = map[string]string{"content-type": "x"} }, "cannot be configured"},
		{"header with a line break", func(e *Endpoint) { e.Headers = map[string]string{"X-A": "a\r\nX-B: b"} }, "control character"},
		{"header name with a space", func(e *Endpoint) { e.Headers = map[string]string{"X A": "a"} }, "not a valid"},
		{"json with get", func(e *Endpoint) { e.Method, e.Format = "get", "json" }, "needs method post"},
		{"template without a template", func(e *Endpoint) { e.Format = "template" }, "needs a template"},
		{"template source on a form endpoint", func(e *Endpoint) { e.Template = "x" }, "only go with format template"},
		{"empty second secret", func(e *Endpoint) { e.Secrets = []string{"s", ""} }, "secret #2"},
		{"header replaces transfer-encoding", func(e *Endpoint) { e.Headers = map[string]string{"Transfer-Encoding": "chunked"} }, "cannot be configured"},
		{"header with a control character", func(e *Endpoint) { e.Headers = map[string]string{"X-A": "a\x01b"} }, "control character"},
		{"header with DEL", func(e *Endpoint) { e.Headers = map[string]string{"X-A": "a\x7fb"} }, "control character"},
		{"header with NUL", func(e *Endpoint) { e.Headers = map[string]string{"X-A": "a\x00b"} }, "control character"},
		{"header given twice in two cases", func(e *Endpoint) { e.Headers = map[string]string{"X-A": "1", "x-a": "2"} }, "given twice"},
		{"header with a tab and non-ASCII", func(e *Endpoint) { e.Headers = map[string]string{"X-A": "a\tb é"} }, ""},
		{"content type not a media type", func(e *Endpoint) { e.Format, e.Template, e.ContentType = "template", "x", "json" }, "not a media type"},
		{"content type with a space", func(e *Endpoint) { e.Format, e.Template, e.ContentType = "template", "x", "text/plain text" }, "not a media type"},
		{"content type with a line break", func(e *Endpoint) { e.Format, e.Template, e.ContentType = "template", "x", "text/plain\r\nX-B: b" }, "content_type"},
		{"content type on a form endpoint", func(e *Endpoint) { e.ContentType = "text/plain" }, "only go with format template"},
		{"content type with parameters", func(e *Endpoint) { e.Format, e.Template, e.ContentType = "template", "x", "text/plain; charset=utf-8" }, ""},
		{"negative max body", func(e *Endpoint) { e.MaxBody = -1 }, "max_body"},
		{"user agent may be replaced", func(e *Endpoint) { e.Headers = map[string]string{"User-Agent": "mine/1"} }, ""},
		{"GET in capitals", func(e *Endpoint) { e.Method = "GET" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := base
			tt.change(&e)
			_, err := NewEncoder(e)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("NewEncoder: %v, want %q", err, tt.want)
			}
		})
	}
}

// TestEndpointErrorSetting: NewEncoder's errors name the setting at fault
// as the configuration file does, for config check to point at it.
func TestEndpointErrorSetting(t *testing.T) {
	base := Endpoint{URL: "http://127.0.0.1/", Secrets: []string{"s"}}
	tests := []struct {
		change  func(*Endpoint)
		setting string
	}{
		{func(e *Endpoint) { e.Method = "put" }, "method"},
		{func(e *Endpoint) { e.URL = "/x" }, "url"},
		{func(e *Endpoint) { e.Secrets = nil }, "secrets"},
		{func(e *Endpoint) { e.Format, e.Template = "template", "{{" }, "template"},
		{func(e *Endpoint) { e.Format, e.Template, e.ContentType = "template", "x", "x" }, "content_type"},
		{func(e *Endpoint) { e.ContentType = "text/plain" }, "content_type"},
		{func(e *Endpoint) { e.MaxBody = -5 }, "max_body"},
		{func(e *Endpoint) { e.CustomData = map[string]string{"body": "x"} }, "custom_data.body"},
		{func(e *Endpoint) { e.Headers = map[string]string{"Host": "x"} }, "headers.Host"},
	}
	for _, tt := range tests {
		e := base
		tt.change(&e)
		_, err := NewEncoder(e)
		var ee *EndpointError
		if !errors.As(err, &ee) || ee.Setting != tt.setting {
			t.Errorf("NewEncoder: %v, want an EndpointError about %s", err, tt.setting)
		}
	}
}
