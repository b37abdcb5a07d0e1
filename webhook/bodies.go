package webhook

import (
	"encoding/json"
	"time"
)

// DateLayout is the layout of every date in an event body: "YYYY-MM-DD
// HH:MM:SS", 24-hour, in the configured time zone.
const DateLayout = time.DateTime

// FormatDate formats t as an event date ("2006-01-02 15:04:05") in loc; a nil
// loc means time.Local.
func FormatDate(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.Local
	}
	return t.In(loc).Format(DateLayout)
}

// ParseDate reads an event date in loc (time.Local when nil).
func ParseDate(s string, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.Local
	}
	return time.ParseInLocation(DateLayout, s, loc)
}

// ReceiveSMSBody is the body of a receive_sms event (SPEC §1).
type ReceiveSMSBody struct {
	// ID is the event id, unique among receive_sms events.
	ID int64 `json:"id"`
	// At is the SMS's service-centre time, a date.
	At string `json:"at"`
	// Text is the whole text, all parts joined.
	Text string `json:"text"`
	// Destination is the id of the phone that received the SMS.
	Destination int `json:"destination"`
	// Origin is the sender: E.164 number or alphanumeric name.
	Origin string `json:"origin"`
	// Command is always false (RaspiSMS's command feature is not used).
	Command bool `json:"command"`
	// MMS is always false.
	MMS bool `json:"mms"`
	// Medias is always empty; it is sent as [] even when nil.
	Medias []string `json:"medias"`
}

// MarshalJSON encodes the body with medias as [] when nil.
func (b ReceiveSMSBody) MarshalJSON() ([]byte, error) {
	type plain ReceiveSMSBody
	b.Medias = nonNil(b.Medias)
	return json.Marshal(plain(b))
}

// SendSMSBody is the body of a send_sms event (SPEC §1).
type SendSMSBody struct {
	// ID is the event id, unique among send_sms events; status changes refer to it.
	ID int64 `json:"id"`
	// At is when the send was handed to the modem (or failed), a date.
	At string `json:"at"`
	// Status is "unknown" (handed to the modem) or "failed".
	Status string `json:"status"`
	// Text is the text sent.
	Text string `json:"text"`
	// Destination is the recipient's number.
	Destination string `json:"destination"`
	// Origin is the id of the phone that sent it.
	Origin int `json:"origin"`
	// MMS is always false.
	MMS bool `json:"mms"`
	// Medias is always empty; it is sent as [] even when nil.
	Medias []string `json:"medias"`
	// OriginatingScheduled is always null.
	OriginatingScheduled *int `json:"originating_scheduled"`
	// Tag is the caller's label from the send request, "" if none.
	Tag string `json:"tag"`
}

// MarshalJSON encodes the body with medias as [] when nil.
func (b SendSMSBody) MarshalJSON() ([]byte, error) {
	type plain SendSMSBody
	b.Medias = nonNil(b.Medias)
	return json.Marshal(plain(b))
}

// StatusChangeBody is the body of a send_sms_status_change event (SPEC §1).
type StatusChangeBody struct {
	// ID is the id of the send_sms event whose status changed.
	ID int64 `json:"id"`
	// Status is "delivered", "failed" or "unknown".
	Status string `json:"status"`
	// At is the report's discharge time, a date; omitted when unknown.
	At string `json:"at,omitempty"`
	// IDPhone is the id of the phone that got the report; omitted when 0.
	IDPhone int `json:"id_phone,omitempty"`
}

// InboundCallBody is the body of an inbound_call event (SPEC §1). It is sent
// when the call rings (End nil) and again, same ID and UID, when it ends.
type InboundCallBody struct {
	// ID is the event id, the same for the ring and the end of one call.
	ID int64 `json:"id"`
	// IDUser is the configured user_id.
	IDUser int `json:"id_user"`
	// IDPhone is the id of the phone that rang.
	IDPhone int `json:"id_phone"`
	// UID is the call's unique id.
	UID string `json:"uid"`
	// Start is when the call started ringing, a date.
	Start string `json:"start"`
	// End is when the call ended, a date; nil (null) while it rings.
	End *string `json:"end"`
	// Direction is always "inbound".
	Direction string `json:"direction"`
	// Origin is the caller's number; nil (null) when withheld.
	Origin *string `json:"origin"`
	// Destination is always nil (null).
	Destination *string `json:"destination"`
}

// PhoneReliabilityBody is the body of a phone_reliability event (SPEC §1).
// Unreliable and Rate are strings, as RaspiSMS sends them.
type PhoneReliabilityBody struct {
	// ReliabilityType is "failed" or "unknown".
	ReliabilityType string `json:"reliability_type"`
	// IDPhone is the id of the phone.
	IDPhone int `json:"id_phone"`
	// Period is the observed window, in minutes.
	Period int `json:"period"`
	// Total is how many SMS were sent in the window.
	Total int `json:"total"`
	// Unreliable is how many of them were unreliable, as a decimal string ("6").
	Unreliable string `json:"unreliable"`
	// Rate is Unreliable/Total with 4 decimals, as a string ("0.2000").
	Rate string `json:"rate"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
