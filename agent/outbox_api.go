package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/simhook/simhook/outbox"
	"github.com/simhook/simhook/webhook"
)

// outboxRoutes serves the outbox to `simhook outbox` while the agent runs
// (bbolt locks the file, so the CLI cannot open it then).
func (a *Agent) outboxRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/outbox/deliveries", a.handleOutboxList)
	mux.HandleFunc("GET /v1/malformed", a.handleMalformed)
	mux.HandleFunc("GET /v1/outbox/events/{seq}", a.handleOutboxShow)
	mux.HandleFunc("POST /v1/outbox/retry", a.handleOutboxRetry)
	mux.HandleFunc("POST /v1/outbox/purge", a.handleOutboxPurge)
	mux.HandleFunc("POST /v1/outbox/endpoints/{name}/enable", a.handleOutboxEnable)
	mux.HandleFunc("POST /v1/outbox/import", a.handleOutboxImport)
}

// ImportResult is the answer to POST /v1/outbox/import.
type ImportResult struct {
	// Queued were re-queued; Present were already in the outbox (same
	// dedupe key); Failed could not be stored, with the first error.
	Queued, Present, Failed int
	Error                   string `json:",omitempty"`
}

// handleOutboxImport re-queues events salvaged from a damaged file.
func (a *Agent) handleOutboxImport(w http.ResponseWriter, r *http.Request) {
	// A salvage can be large and slow to store: more time than the API's
	// usual deadlines allow.
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(a.opts.API.withDefaults().ImportTimeout)
	_ = rc.SetReadDeadline(deadline)
	_ = rc.SetWriteDeadline(deadline)
	var in []outbox.Salvageable
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<20)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("body: %w", err))
		return
	}
	var res ImportResult
	for _, s := range in {
		ok, err := a.out.Import(r.Context(), s)
		switch {
		case err != nil:
			res.Failed++
			if res.Error == "" {
				res.Error = err.Error()
			}
		case ok:
			res.Queued++
		default:
			res.Present++
		}
	}
	a.log.Info("salvaged events imported", "queued", res.Queued, "present", res.Present, "failed", res.Failed)
	writeJSON(w, http.StatusOK, res)
}

func (a *Agent) handleOutboxList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > 10000 {
		limit = 100
	}
	f := outbox.ListFilter{State: q.Get("state"), Endpoint: q.Get("endpoint"), Type: webhook.Type(q.Get("type")), Limit: limit}
	out := []outbox.DeliveryInfo{}
	err := a.out.List(f, func(d outbox.DeliveryInfo) error { out = append(out, d); return nil })
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *Agent) handleOutboxShow(w http.ResponseWriter, r *http.Request) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("seq: %w", err))
		return
	}
	ev, err := a.out.Show(seq)
	switch {
	case errors.Is(err, outbox.ErrNotFound):
		writeError(w, http.StatusNotFound, err)
	case err != nil:
		writeError(w, http.StatusInternalServerError, err)
	default:
		writeJSON(w, http.StatusOK, ev)
	}
}

// RetryRequest selects dead deliveries to send again.
type RetryRequest struct {
	Seq      uint64 `json:"seq,omitempty"`
	AllDead  bool   `json:"all_dead,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
}

func (a *Agent) handleOutboxRetry(w http.ResponseWriter, r *http.Request) {
	var req RetryRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	n, err := a.out.Retry(outbox.RetrySelector(req))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"retried": n})
}

// PurgeRequest selects what to purge.
type PurgeRequest struct {
	Dead      bool   `json:"dead,omitempty"`
	OlderThan string `json:"older_than,omitempty"`
}

func (a *Agent) handleOutboxPurge(w http.ResponseWriter, r *http.Request) {
	var req PurgeRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	sel := outbox.PurgeSelector{Dead: req.Dead}
	if req.OlderThan != "" {
		d, err := time.ParseDuration(req.OlderThan)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		sel.OlderThan = d
	}
	n, err := a.out.Purge(sel)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"purged": n})
}

func (a *Agent) handleOutboxEnable(w http.ResponseWriter, r *http.Request) {
	if err := a.out.EnableEndpoint(r.PathValue("name")); err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"enabled": r.PathValue("name")})
}

// writeOutboxMetrics exports the outbox's counters and queue state.
func (a *Agent) writeOutboxMetrics(m *promWriter) {
	mt := a.out.Metrics()
	for _, t := range webhook.Types() {
		m.counter("simhook_events_total", "Events committed to the outbox, by type.", float64(mt.Enqueued[string(t)]), "type", string(t))
	}
	m.counter("simhook_events_duplicate_total", "Enqueues absorbed by a source dedupe key (re-read after a crash).", float64(mt.Duplicates))
	m.counter("simhook_enqueue_errors_total", "Events that could not be committed (e.g. disk full); their source was kept.", float64(mt.EnqueueErrors))
	m.counter("simhook_delivery_attempts_total", "Webhook requests sent.", float64(mt.Attempts))
	st, err := a.out.Stats()
	names := []string{}
	if err == nil {
		for _, e := range st.Endpoints {
			names = append(names, e.Name)
		}
	}
	outcomes := []string{outbox.OutcomeDelivered, outbox.OutcomeRetry, outbox.OutcomeNetwork, outbox.OutcomeOffline,
		outbox.OutcomeClientError, outbox.OutcomeDead, outbox.OutcomeDisabled}
	for _, name := range names {
		for _, o := range outcomes {
			m.counter("simhook_deliveries_total", "Delivery attempt outcomes, by endpoint and class.", float64(mt.Deliveries[name][o]), "endpoint", name, "outcome", o)
		}
	}
	m.gauge("simhook_network_online", "0 while every endpoint is unreachable (fails at the transport level).", boolValue(!mt.Offline))
	m.counter("simhook_outbox_damaged_total", "Damaged outbox files moved aside at start (this process).", float64(mt.Damaged))
	m.gauge("simhook_time_sync_hold", "1 while webhooks wait for the system clock to synchronise.", boolValue(mt.TimeSyncHold))
	m.counter("simhook_clock_unknown_total", "Times the clock guard could not tell whether the clock is synchronised (held as unsynchronised).", float64(mt.ClockUnknown))
	m.counter("simhook_clock_rebased_total", "Events made before the clock synchronised whose time was re-based when it did.", float64(mt.ClockRebased))
	if err != nil {
		return
	}
	for _, e := range st.Endpoints {
		m.gauge("simhook_outbox_pending", "Deliveries waiting, by endpoint.", float64(e.Pending), "endpoint", e.Name)
	}
	for _, e := range st.Endpoints {
		m.gauge("simhook_outbox_oldest_pending_seconds", "Age of the oldest waiting delivery, by endpoint.", e.OldestPending.Seconds(), "endpoint", e.Name)
	}
	for _, e := range st.Endpoints {
		m.gauge("simhook_outbox_dead", "Dead-lettered deliveries kept for inspection, by endpoint.", float64(e.Dead), "endpoint", e.Name)
	}
	for _, e := range st.Endpoints {
		m.gauge("simhook_endpoint_disabled", "1 after the endpoint answered 410 Gone.", boolValue(e.Disabled), "endpoint", e.Name)
	}
	for _, e := range st.Endpoints {
		m.gauge("simhook_endpoint_unreachable", "1 from a failure at the transport level until the endpoint answers again (probed meanwhile).", boolValue(e.Unreachable), "endpoint", e.Name)
	}
	m.gauge("simhook_outbox_events", "Events held in the outbox file.", float64(st.Events))
}
