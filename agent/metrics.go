package agent

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/simhook/simhook"
)

// counterHelp documents the agent's own counters, exported as
// simhook_<name>_total. A counter missing here is still exported, with a
// generic help text.
var counterHelp = map[string]string{
	"config_reloads":             "Configuration changes applied without a restart.",
	"config_errors":              "Configuration changes refused because the new file was invalid.",
	"receive_errors":             "Received SMS that could not be committed (left on the modem and retried).",
	"receive_duplicates":         "Received SMS already in the outbox (re-read after a crash or reconnect).",
	"receive_incomplete":         "Concatenated SMS delivered with parts missing after the timeout.",
	"malformed_pdus":             "Stored PDUs that could not be decoded (kept in the outbox file).",
	"call_errors":                "Call events that could not be committed.",
	"status_reports":             "Delivery reports received from modems.",
	"status_reports_unmatched":   "Delivery reports that matched no sent SMS (yet).",
	"sends_accepted":             "Send requests accepted and queued.",
	"sends_ok":                   "Send requests the modem accepted in full.",
	"sends_retried":              "Send attempts retried after a transient modem error.",
	"sends_failed":               "Send requests that failed.",
	"sends_failed_over":          "Send attempts moved to another phone after a SIM refusal or a phone down before the hand-over.",
	"ussd_requests":              "USSD codes answered by the network (API and balance checks).",
	"fleet_requests":             "Fleet send requests this gateway claimed and queued.",
	"fleet_requests_redelivered": "Fleet send requests delivered again that this gateway already had (recognised by their id).",
	"fleet_requests_elsewhere":   "Fleet send requests committed here that another gateway had claimed first (dropped here, never sent).",
	"fleet_requests_refused":     "Fleet send requests that can never be sent (bad JSON, no id, bad number, unknown phone), dropped from the stream.",
	"ussd_errors":                "USSD codes the network or the modem refused, or left unanswered.",
	"balance_errors":             "Balance checks that failed (no answer, or no balance found in it).",
	"sends_queue_timeout":        "Send requests failed after waiting longer than sending.queue_timeout (for a phone, a limit or a send gap).",
	"reliability_alerts":         "phone_reliability alerts raised.",
	"disk_low":                   "Times the state directory's free space fell under storage.min_free_mb/min_free_percent.",
	"sends_refused_disk":         "Send requests refused because the state directory was low on free space.",
	"receive_held_disk":          "Received SMS left on the SIM because the state directory was low on free space.",
	"pruned_sends":               "Finished send requests deleted after delivery.retention.",
	"pruned_malformed":           "Malformed PDUs deleted by their count or age cap.",
	"pruned_reports":             "Unmatched delivery reports deleted after 48 h.",
}

// handleMetrics serves the Prometheus text exposition format (version 0.0.4).
func (a *Agent) handleMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	bw := bufio.NewWriter(w)
	a.writeMetrics(bw)
	_ = bw.Flush()
}

// writeMetrics writes every metric the agent exposes.
func (a *Agent) writeMetrics(w io.Writer) {
	m := &promWriter{w: w}
	m.gauge("simhook_build_info", "The running version.", 1, "version", simhook.Version)
	low := 0.0
	if a.disk.isLow() {
		low = 1
	}
	m.gauge("simhook_disk_low", "1 while the state directory is low on free space (new SMS stay on the SIMs, sends are refused).", low)

	for _, c := range a.counter.snapshot() {
		help := counterHelp[c.name]
		if help == "" {
			help = "Agent counter " + c.name + "."
		}
		m.counter("simhook_"+c.name+"_total", help, float64(c.value))
	}
	// Counters that have not happened yet still exist, at zero, so that
	// alert rules can reference them from the start.
	for _, name := range sortedKeys(counterHelp) {
		if a.counter.get(name) == 0 {
			m.counter("simhook_"+name+"_total", counterHelp[name], 0)
		}
	}

	phones := a.Phones()
	phoneFamily := func(name, typ, help string, value func(PhoneStatus) float64) {
		for _, p := range phones {
			m.sample(name, typ, help, value(p), "phone", strconv.Itoa(p.ID))
		}
	}
	phoneFamily("simhook_phone_up", "gauge", "Whether the phone's modem is connected and registered.",
		func(p PhoneStatus) float64 { return boolValue(p.Status == "up") })
	phoneFamily("simhook_phone_signal_rssi", "gauge", "The modem's last +CSQ rssi (0-31, 99 unknown).",
		func(p PhoneStatus) float64 { return float64(p.Signal) })
	phoneFamily("simhook_phone_reconnects_total", "counter", "Times the phone's modem was reconnected.",
		func(p PhoneStatus) float64 { return float64(p.Reconnects) })
	phoneFamily("simhook_phone_send_enabled", "gauge", "Whether the phone takes sends (0 after a reliability auto-disable).",
		func(p PhoneStatus) float64 { return boolValue(p.SendEnabled) })
	if a.cfg.Load().Fleet.Enabled() {
		m.gauge("simhook_fleet_connected", "1 while the gateway is connected to the fleet's NATS server and set up.", boolValue(a.fleet.connected()))
	}
	a.writePhoneSendMetrics(m, phones)
	a.writeOutboxMetrics(m)
}

// writePhoneSendMetrics writes each phone's use of its send limits, the
// sends waiting for them, and its balance.
func (a *Agent) writePhoneSendMetrics(m *promWriter, phones []PhoneStatus) {
	now := a.now()
	windowFamily := func(name, help string, value func(WindowStatus) float64) {
		for _, p := range phones {
			for _, ws := range p.Windows {
				m.gauge(name, help, value(ws), "phone", strconv.Itoa(p.ID), "window", ws.Window)
			}
		}
	}
	windowFamily("simhook_phone_parts_sent", "Parts the phone handed to its modem in the limit window (minute and hour slide; day counts from limits.day_reset).",
		func(ws WindowStatus) float64 { return float64(ws.Used) })
	windowFamily("simhook_phone_limit_parts", "The phone's configured limit for the window, in parts (0: none).",
		func(ws WindowStatus) float64 { return float64(ws.Max) })
	windowFamily("simhook_phone_window_next_seconds", "Seconds until the window gives room back: its oldest part leaves (minute, hour) or the day resets; 0 for an empty sliding window.",
		func(ws WindowStatus) float64 {
			next, err := time.Parse(time.RFC3339, ws.Next)
			if err != nil {
				return 0
			}
			return max(next.Sub(now).Seconds(), 0)
		})
	for _, p := range phones {
		m.gauge("simhook_phone_sends_waiting", "Send requests waiting for the phone's limits or send gap.", float64(p.Waiting), "phone", strconv.Itoa(p.ID))
	}
	for _, p := range phones {
		if p.Balance != nil && p.Balance.Value != nil {
			m.gauge("simhook_phone_balance", "The SIM's balance read by the phone's balance check (USSD).", *p.Balance.Value, "phone", strconv.Itoa(p.ID))
		}
	}
}

// promWriter writes metric families, each HELP and TYPE line once.
type promWriter struct {
	w    io.Writer
	seen map[string]bool
}

func (m *promWriter) counter(name, help string, v float64, labels ...string) {
	m.sample(name, "counter", help, v, labels...)
}

func (m *promWriter) gauge(name, help string, v float64, labels ...string) {
	m.sample(name, "gauge", help, v, labels...)
}

// sample writes one sample; labels are name/value pairs.
func (m *promWriter) sample(name, typ, help string, v float64, labels ...string) {
	if m.seen == nil {
		m.seen = make(map[string]bool)
	}
	if !m.seen[name] {
		m.seen[name] = true
		fmt.Fprintf(m.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	var b strings.Builder
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%s=%q", labels[i], labels[i+1])
		}
		b.WriteByte('}')
	}
	fmt.Fprintf(m.w, "%s %s\n", b.String(), strconv.FormatFloat(v, 'g', -1, 64))
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// boolValue is 1 for true and 0 for false.
func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
