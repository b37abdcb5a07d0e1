package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
)

// Event is a request read back as an event: the five fields, the raw body
// and, for the five known types, the typed body.
type Event struct {
	// Type is webhook_type; "" for a template body handed over raw.
	Type Type
	// Timestamp is webhook_timestamp: when the event happened (Unix seconds).
	Timestamp int64
	// RandomID is webhook_random_id (for a template body, webhook-id): the
	// key to de-duplicate on.
	RandomID string
	// Signature is webhook_signature as received.
	Signature string
	// Body is the event body as JSON.
	Body json.RawMessage
	// Custom holds fields beyond the five (custom_data).
	Custom map[string]string

	// The typed body: exactly the one matching Type is set (none for a
	// template body). Medias are [] rather than nil.

	// ReceiveSMS is the body of a receive_sms event.
	ReceiveSMS *ReceiveSMSBody
	// SendSMS is the body of a send_sms event.
	SendSMS *SendSMSBody
	// StatusChange is the body of a send_sms_status_change event.
	StatusChange *StatusChangeBody
	// InboundCall is the body of an inbound_call event.
	InboundCall *InboundCallBody
	// PhoneReliability is the body of a phone_reliability event.
	PhoneReliability *PhoneReliabilityBody
}

// ParseRequest reads a form POST, GET or JSON request as an event. body is
// the request body already read (ignored for GET). It does not verify
// anything: see VerifyLegacy, VerifyStandard and Verifier. Errors wrap
// ErrMalformed.
func ParseRequest(r *http.Request, body []byte) (*Event, error) {
	var fields map[string]string
	var rawBody json.RawMessage
	switch {
	case r.Method == http.MethodGet:
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, fmt.Errorf("query: %v: %w", err, ErrMalformed)
		}
		fields = flatten(q)
	case isJSON(r.Header.Get("Content-Type"), body):
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil {
			return nil, fmt.Errorf("json body: %v: %w", err, ErrMalformed)
		}
		fields = make(map[string]string, len(obj))
		for k, v := range obj {
			if k == FieldBody {
				rawBody = v
				continue
			}
			var s string
			if json.Unmarshal(v, &s) == nil {
				fields[k] = s
			} else {
				fields[k] = string(v) // numbers, e.g. webhook_timestamp
			}
		}
		if rawBody == nil {
			return nil, fmt.Errorf("json body: no %q: %w", FieldBody, ErrMalformed)
		}
		var inner string
		if json.Unmarshal(rawBody, &inner) == nil {
			// body sent as a JSON string holding JSON, as in the form shape.
			rawBody = json.RawMessage(inner)
		}
	default:
		q, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("form body: %v: %w", err, ErrMalformed)
		}
		fields = flatten(q)
	}
	if rawBody == nil {
		b, ok := fields[FieldBody]
		if !ok {
			return nil, fmt.Errorf("no %q field: %w", FieldBody, ErrMalformed)
		}
		rawBody = json.RawMessage(b)
	}
	ev := &Event{Type: Type(fields[FieldType]), RandomID: fields[FieldRandomID], Signature: fields[FieldSignature], Body: rawBody}
	for _, k := range []string{FieldTimestamp, FieldRandomID, FieldType} {
		if fields[k] == "" {
			return nil, fmt.Errorf("no %q field: %w", k, ErrMalformed)
		}
	}
	ts, err := strconv.ParseInt(fields[FieldTimestamp], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", FieldTimestamp, fields[FieldTimestamp], ErrMalformed)
	}
	ev.Timestamp = ts
	for k, v := range fields {
		switch k {
		case FieldTimestamp, FieldRandomID, FieldSignature, FieldType, FieldBody:
		default:
			if ev.Custom == nil {
				ev.Custom = make(map[string]string)
			}
			ev.Custom[k] = v
		}
	}
	if err := ev.decodeBody(); err != nil {
		return nil, err
	}
	return ev, nil
}

// decodeBody fills the typed body for a known type.
func (ev *Event) decodeBody() error {
	var target any
	switch ev.Type {
	case ReceiveSMS:
		ev.ReceiveSMS = new(ReceiveSMSBody)
		target = ev.ReceiveSMS
	case SendSMS:
		ev.SendSMS = new(SendSMSBody)
		target = ev.SendSMS
	case SendSMSStatusChange:
		ev.StatusChange = new(StatusChangeBody)
		target = ev.StatusChange
	case InboundCall:
		ev.InboundCall = new(InboundCallBody)
		target = ev.InboundCall
	case PhoneReliability:
		ev.PhoneReliability = new(PhoneReliabilityBody)
		target = ev.PhoneReliability
	default:
		return fmt.Errorf("unknown webhook_type %q: %w", ev.Type, ErrMalformed)
	}
	if !json.Valid(ev.Body) || firstNonSpace(ev.Body) != '{' {
		return fmt.Errorf("%s body is not a JSON object: %w", ev.Type, ErrMalformed)
	}
	if err := json.Unmarshal(ev.Body, target); err != nil {
		return fmt.Errorf("%s body: %v: %w", ev.Type, err, ErrMalformed)
	}
	switch {
	case ev.ReceiveSMS != nil:
		ev.ReceiveSMS.Medias = nonNil(ev.ReceiveSMS.Medias)
	case ev.SendSMS != nil:
		ev.SendSMS.Medias = nonNil(ev.SendSMS.Medias)
	}
	return nil
}

// isJSON reports whether a POST body is the json format.
func isJSON(contentType string, body []byte) bool {
	if mt, _, err := mime.ParseMediaType(contentType); err == nil {
		if mt == "application/json" {
			return true
		}
		if mt == "application/x-www-form-urlencoded" {
			return false
		}
	}
	return len(bytes.TrimSpace(body)) > 0 && bytes.TrimSpace(body)[0] == '{'
}

// flatten keeps the first value of each field.
func flatten(q url.Values) map[string]string {
	m := make(map[string]string, len(q))
	for k, v := range q {
		if len(v) > 0 {
			m[k] = v[0]
		}
	}
	return m
}
