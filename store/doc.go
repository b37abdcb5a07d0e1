// Package store owns the agent's durable state: the send queue, the message
// references that delivery reports are matched against, kept reports, open
// calls, remembered SIM slots, malformed PDUs, reliability alerts, disabled
// phones and concatenation references.
//
// The state lives in the same bbolt file as the outbox's events, so that a
// state change and the event it causes commit in one transaction. The outbox
// owns the file and its group commit; this package owns its own buckets:
// their layout, their indexes, their migrations and their pruning. Callers
// use named operations and never see a bbolt handle. Operations that must
// commit together with an event return a Hook, which goes in the event's
// outbox.Event.Also.
//
// Bucket layout (schema version 1):
//
//	agent/sends          send id → Send (JSON), finished requests
//	agent/sends-active   send id → Send (JSON), requests queued or sending
//	agent/sends-queued   not-before time, send id → nil   (state queued)
//	agent/sends-open     send id → nil                    (state sending)
//	agent/sends-done     finish time, send id → nil       (state sent or failed)
//	agent/refs           "phone/ref" → RefEntry (JSON)
//	agent/kept-reports   "phone/seq" → KeptReport (JSON)
//	agent/calls          phone id → Call (JSON)
//	agent/slots          "phone/storage/index" → dedupe key
//	agent/malformed      seq → MalformedPDU (JSON)
//	agent/alerts         "phone/kind" → time of the last alert (JSON)
//	agent/disabled       phone id → reason (JSON)
//	agent/concat-ref     phone id → last concatenation reference
//	agent/meta           "version" → schema version
//	agent/usage          hand-over time, send id, part → phone id (for send limits)
//	agent/request-ids    client-chosen request id → send id (fleet requests)
//
// Work is proportional to what is pending: the queue is read through its
// due-time index, recovery through the open index, and pruning and the
// reliability window through the finish-time index.
package store
