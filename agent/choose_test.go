package agent

import (
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/config"
)

// TestChoosePhone covers which phone a request goes to, and why it waits
// when none can take it.
func TestChoosePhone(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	up := func(id int, parts ...time.Duration) phoneView {
		return phoneView{phoneState: phoneState{ID: id, Ready: true, Status: "up"},
			Cfg: config.Phone{ID: id, Limits: config.Limits{DayReset: "00:00"}}, Parts: at(now, parts...)}
	}
	with := func(v phoneView, fn func(v *phoneView)) phoneView { fn(&v); return v }
	limited := func(v phoneView, lim config.Limits) phoneView {
		lim.DayReset = "00:00"
		return with(v, func(v *phoneView) { v.Cfg.Limits = lim })
	}
	h := time.Hour
	tests := []struct {
		name      string
		r         sendRecord
		n         int
		views     []phoneView
		want      int
		waitFor   string
		waitPhone int
		until     time.Time
		detail    string
	}{
		{"the least used today", sendRecord{To: "+33600000001"}, 1,
			[]phoneView{up(1, -h, -h), up(2, -h), up(3, -h, -h, -h)}, 2, "", 0, time.Time{}, ""},
		{"today's tie broken by this hour", sendRecord{To: "+33600000001"}, 1,
			[]phoneView{up(1, -3*h, -time.Minute), up(2, -time.Minute, -time.Minute)}, 1, "", 0, time.Time{}, ""},
		{"a named phone even if more used", sendRecord{To: "+33600000001", Phone: 3}, 1,
			[]phoneView{up(1), up(2), up(3, -h, -h)}, 3, "", 0, time.Time{}, ""},
		{"allowed prefixes", sendRecord{To: "+32470000001"}, 1,
			[]phoneView{with(up(1), func(v *phoneView) { v.Cfg.Allow = []string{"+33"} }), with(up(2, -h), func(v *phoneView) { v.Cfg.Allow = []string{"+33", "+32"} })},
			2, "", 0, time.Time{}, ""},
		{"not back to a phone that refused it", sendRecord{To: "+33600000001", Avoid: []int{1}}, 1,
			[]phoneView{up(1), up(2, -h)}, 2, "", 0, time.Time{}, ""},
		{"a phone whose SIM refused lately goes last", sendRecord{To: "+33600000001"}, 1,
			[]phoneView{with(up(1), func(v *phoneView) { v.RefusedUntil = now.Add(time.Minute) }), up(2, -h, -h)}, 2, "", 0, time.Time{}, ""},
		{"a phone whose SIM refused lately waits for a busy one", sendRecord{To: "+33600000001"}, 1,
			[]phoneView{with(up(1), func(v *phoneView) { v.RefusedUntil = now.Add(time.Minute) }), with(up(2), func(v *phoneView) { v.Busy = true })},
			0, waitPhone, 0, time.Time{}, "busy"},
		{"a phone whose SIM refused lately, when it is the only one", sendRecord{To: "+33600000001"}, 1,
			[]phoneView{with(up(1), func(v *phoneView) { v.RefusedUntil = now.Add(time.Minute) }), with(up(2), func(v *phoneView) { v.Ready, v.Status = false, "down" })},
			1, "", 0, time.Time{}, ""},
		{"over its limit, another phone", sendRecord{To: "+33600000001"}, 1,
			[]phoneView{limited(up(1, -h), config.Limits{Day: 1}), up(2, -h, -h)}, 2, "", 0, time.Time{}, ""},
		{"busy or down: wait for a phone", sendRecord{To: "+33600000001"}, 1,
			[]phoneView{with(up(1), func(v *phoneView) { v.Busy = true }), with(up(2), func(v *phoneView) { v.Ready, v.Status = false, "down" })},
			0, waitPhone, 0, time.Time{}, "busy"},
		{"all down", sendRecord{To: "+33600000001", Phone: 2}, 1,
			[]phoneView{up(1), with(up(2), func(v *phoneView) { v.Ready, v.Status = false, "connecting" })},
			0, waitPhone, 2, time.Time{}, "phone 2 is connecting"},
		{"every phone at its limit: the earliest room", sendRecord{To: "+33600000001"}, 3,
			[]phoneView{limited(up(1, -50*time.Second, -50*time.Second, -50*time.Second), config.Limits{Minute: 3}),
				limited(up(2, -40*time.Second, -40*time.Second, -40*time.Second), config.Limits{Minute: 3})},
			0, waitLimit, 1, now.Add(10 * time.Second), "minute limit"},
		{"a named phone's day limit", sendRecord{To: "+33600000001", Phone: 1}, 1,
			[]phoneView{limited(up(1, -h), config.Limits{Day: 1}), up(2)},
			0, waitLimit, 1, time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), "day limit"},
		{"the send gap", sendRecord{To: "+33600000001"}, 1,
			[]phoneView{with(up(1), func(v *phoneView) { v.GapUntil = now.Add(3 * time.Second) })},
			0, waitSendGap, 1, now.Add(3 * time.Second), "send_gap"},
		{"held for an earlier request", sendRecord{To: "+33600000001"}, 1,
			[]phoneView{with(up(1), func(v *phoneView) { v.HeldUntil = now.Add(time.Minute) })}, 0, waitLimit, 1, now.Add(time.Minute), "earlier request"},
		{"larger than every limit", sendRecord{To: "+33600000001"}, 9,
			[]phoneView{limited(up(1), config.Limits{Minute: 6})}, 0, waitLimit, 1, time.Time{}, "smaller than the message"},
		{"no phone may send there", sendRecord{To: "+44700000001"}, 1,
			[]phoneView{with(up(1), func(v *phoneView) { v.Cfg.Allow = []string{"+33"} })}, 0, waitPhone, 0, time.Time{}, "no phone may send to +44700000001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := choosePhone(tt.r, tt.n, tt.views, now, time.UTC)
			if ch.ID != tt.want {
				t.Fatalf("chose phone %d (%+v), want %d", ch.ID, ch.Wait, tt.want)
			}
			if tt.want != 0 {
				return
			}
			w := ch.Wait
			if w.For != tt.waitFor || w.Phone != tt.waitPhone || !w.Until.Equal(tt.until) || !strings.Contains(w.Detail, tt.detail) {
				t.Errorf("wait %+v, want for %q phone %d until %v, detail containing %q", w, tt.waitFor, tt.waitPhone, tt.until, tt.detail)
			}
		})
	}
}
