// Package agent is the simhook daemon: it joins the modem drivers to the
// outbox. One worker per configured phone owns that phone's modem and turns
// what the driver reports into events: received SMS, delivery reports, calls.
// A sender drains the durable send queue through the phones, a checker raises
// phone-reliability alerts, and a small HTTP API on a unix socket serves
// health, phone state, outbox statistics, Prometheus metrics and sending.
//
// Every event is committed to the outbox before the source that produced it is
// let go: a received SMS is deleted from the modem only after its receive_sms
// event is durable, and a stored delivery report only after the status change
// it causes is durable.
//
// The agent applies a new configuration while it runs (Apply): endpoints and
// thresholds at once, and phones that were added, removed or changed start,
// stop or restart only their own worker.
package agent
