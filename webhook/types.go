package webhook

// Type is an event type: the value of the webhook_type field.
type Type string

// The five event types of SPEC §1, in SPEC order.
const (
	// ReceiveSMS is sent when a complete SMS (all parts) was received.
	ReceiveSMS Type = "receive_sms"
	// SendSMS is sent when a send request was handed to the modem, or could not be.
	SendSMS Type = "send_sms"
	// SendSMSStatusChange is sent when a delivery report changed a sent SMS's status.
	SendSMSStatusChange Type = "send_sms_status_change"
	// InboundCall is sent when a call rings, and again when it ends.
	InboundCall Type = "inbound_call"
	// PhoneReliability is sent when a phone's unreliable-send rate crossed its threshold.
	PhoneReliability Type = "phone_reliability"
)

// Types returns the five event types, in SPEC order. The slice is new on
// every call: callers may change it.
func Types() []Type {
	return []Type{ReceiveSMS, SendSMS, SendSMSStatusChange, InboundCall, PhoneReliability}
}

// Valid reports whether t is one of the five event types.
func (t Type) Valid() bool {
	switch t {
	case ReceiveSMS, SendSMS, SendSMSStatusChange, InboundCall, PhoneReliability:
		return true
	}
	return false
}

// String returns the type's wire name.
func (t Type) String() string { return string(t) }
