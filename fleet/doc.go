// Package fleet is simhook's NATS JetStream client: it lets gateways behind
// NAT dial out to a shared NATS server, take send requests from a work-queue
// stream while they have a free phone, publish their events into one
// de-duplicated stream and keep their phones' state in a key-value bucket.
//
// A Node keeps one connection in the background. Start never fails because
// the server is down: the connection is retried without end, and once it is
// up the Node creates what is missing (the streams SIMHOOK_SEND and
// SIMHOOK_EVENTS, the gateway's two durable consumers and the bucket
// simhook_phones), again after every reconnect, so a server restart that lost
// them is repaired. Until then Publish and PutPhone fail at once and Serve
// waits; callers retry.
//
// Subjects:
//
//	simhook.send                       a request any gateway may take
//	simhook.send.<gateway>             a request for one gateway
//	simhook.events.<gateway>.<type>    an event, Nats-Msg-Id = webhook_random_id
//
// and the bucket's keys are <gateway>.<phone id>.
package fleet
