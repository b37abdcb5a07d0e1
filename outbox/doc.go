// Package outbox is simhook's durable queue of events and the dispatcher
// that delivers them as signed webhooks.
//
// # Storing
//
// Every event lives in one bbolt file until every endpoint subscribed to it
// has it. Enqueue returns only after the event and one pending delivery per
// subscribed endpoint are committed with fsync, so the caller may then
// destroy the event's source (delete the SMS from the SIM). On any error,
// a full disk included (the error wraps ENOSPC), nothing of the event is
// stored and the caller keeps the source.
//
// All writes go through one committer goroutine: whatever arrives while a
// transaction is being committed joins the next one (group commit), so
// concurrent writers share an fsync. A write that fails is answered alone:
// an event whose body cannot be rendered is refused before it writes
// anything, and a write that fails after writing (an Event.Also or Update
// function) rolls its group back, gets its error, and the rest of the group
// runs again in a fresh transaction.
//
// A dedupe key makes a second enqueue of the same source (after a crash
// between the commit and the deletion of the source) return the first
// event. Each type has its own id sequence (the id in the body), and a
// global sequence orders all events.
//
// # Delivering
//
// A delivery record per (event, endpoint) keeps the webhook_random_id made
// at enqueue (identical on every retry), the attempts, the next due time,
// the last answer and the state: pending, delivered or dead. Two indexes of
// the pending ones, by due time and by age, let the dispatcher seek instead
// of scan, and running counters make Stats cheap however long the backlog.
// A third index files the finished events (none of their deliveries
// pending) by the time the last one settled, so that retention reads only
// what is due to go: an event goes Retention after that, or, if one of its
// deliveries is dead, the longer of Retention and DeadRetention (720h by
// default) after it. The work the outbox does while it runs is thus
// proportional to what is pending or due, never to the history the file
// keeps. A file of an earlier layout is migrated once, when it is opened
// (the layout's version is kept in the file).
//
// Run sends with bounded concurrency and a per-request timeout, and
// classifies answers as SPEC §3 says: 2xx delivered; network errors,
// timeouts, 408, 429 (honouring Retry-After) and 5xx retried with
// exponential backoff and jitter up to the endpoint's MaxAge (default a
// week; there is no 15-minute cap); 410 disables the endpoint (its
// deliveries stay pending, shown as disabled-endpoint, until
// EnableEndpoint sends them; meanwhile they age as if retried and die at
// MaxAge, so that a disabled endpoint's queue is bounded like any other);
// other answers are retried a few times, then dead.
//
// An endpoint that fails at the transport level (refused, DNS, timeout
// before an answer) is unreachable until it answers again. The outbox keeps
// each endpoint's total unreachable time (in the file, across restarts) and
// each delivery remembers that total at its creation; the difference is not
// counted in the delivery's age, and attempts made meanwhile do not count
// either, so one endpoint's outage spends no retry budget, its own or the
// others'. Meanwhile only a probe (the oldest delivery, sent early) goes out
// to it, one at a time: about a second after the failure, then backing off
// exponentially with jitter up to Delivery.ProbeMax (30s by default); a new
// event queued for it, a change of the host's network (NetworkChanged) or
// another endpoint answering after none did brings the probe forward. The
// first answer ends the outage, and its backlog then drains at once, oldest
// first. When every endpoint is unreachable, the network is considered
// down (Metrics.Offline).
//
// Requests in progress are shared fairly between endpoints: a free slot
// goes to the endpoint with the fewest in progress, and one with a request
// in progress leaves a slot for every other endpoint active in the last
// minute that has none, so a receiver slow to answer never holds every
// slot while another endpoint has work.
//
// A Raspberry Pi has no real-time clock: it may boot days behind (or in
// 1970) and jump forward when NTP syncs, and a clock set ahead may jump
// back. So a delivery's age grows between two attempts by at most the wait
// scheduled between them plus a minute, never by a jump; a dedupe key is
// kept while its event is stored (and for Retention after); a delivered
// event is kept for Retention after its delivery; and a due time further
// ahead than any wait the dispatcher schedules is taken as due now.
//
// With nothing due, the dispatcher arms no timer at all: it wakes for the
// next due delivery, probe or retention, a second after work to hand the
// file's pages back, every second while sending waits for the clock and
// something waits to be sent, and otherwise only when an event is queued,
// a request ends or a setting changes.
//
// An endpoint removed by SetEndpoints keeps its pending deliveries parked
// (neither sent nor lost); they go out when an endpoint of that name
// returns.
//
// # Sharing the file
//
// The file also holds the agent's own buckets (prefix "agent/"), owned by
// package store: it writes them through Update or Event.Also, which join
// the group commit, and reads them through View; nothing else touches
// them. bbolt locks the file while it is open, so
// while the agent runs, the CLI goes through the agent's API; with the
// agent stopped it may Open the file itself (List, Show, Retry, Purge) or
// Compact it into a new one.
package outbox
