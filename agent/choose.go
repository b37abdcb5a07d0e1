package agent

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/simhook/simhook/config"
)

// phoneState is what the send queue asks of each phone before choosing one:
// a worker gives it, unit tests script it.
type phoneState struct {
	ID int
	// Ready: the phone is up and sending through it is enabled.
	Ready bool
	// Busy: a send is in progress on it.
	Busy bool
	// Status says why it is not ready ("down", "connecting", "disabled").
	Status string
}

// phoneView is everything choosePhone weighs about one phone.
type phoneView struct {
	phoneState
	// Cfg is the phone's current configuration: limits, gap, prefixes.
	Cfg config.Phone
	// Parts are the times of the parts it handed to its modem, oldest first.
	Parts []time.Time
	// GapUntil ends the pause after its last send (send_gap).
	GapUntil time.Time
	// RefusedUntil: its SIM refused a send recently; it is tried last.
	RefusedUntil time.Time
	// HeldUntil: an earlier request in this round waits until then for
	// this phone's limit, so a later one may not take its room first.
	HeldUntil time.Time
}

// Wait reasons, as GET /v1/sms/ID shows them.
const (
	waitPhone   = "phone"    // no phone is up, free and allowed
	waitLimit   = "limit"    // a send limit of the phone(s)
	waitSendGap = "send_gap" // the pause between two sends of the phone
	waitRetry   = "retry"    // a retry after a transient error
	waitClaim   = "claim"    // a fleet request not yet claimed on the server
)

// waitInfo is why a queued request is not being sent, and until when.
type waitInfo struct {
	For    string
	Phone  int // the phone it waits for; 0 when several or none
	Detail string
	Until  time.Time // zero: until something changes (a phone comes up or frees)
}

// holds returns the phone whose room the waiting request will take once
// its wait ends, so that later requests may not take it first (0: none).
func (w waitInfo) holds() int {
	if w.For == waitLimit && !w.Until.IsZero() {
		return w.Phone
	}
	return 0
}

// choice is choosePhone's answer: a phone, or why none.
type choice struct {
	ID   int
	Wait waitInfo
}

// allowed reports whether a phone may send to number: it lists no
// prefixes, or one that number starts with.
func allowed(prefixes []string, number string) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(number, p) {
			return true
		}
	}
	return false
}

// choosePhone picks the phone a request of n parts goes through at now: the
// one it names, or else among the phones allowed for its destination and
// not refused by it before (r.Avoid), one that is ready, free, out of its
// send gap and under its limits, the least used first (parts today, then
// this hour, then this minute). A phone whose SIM refused a send lately is
// taken only while no other ready phone may send the request. When none can
// take it, the answer says why and until when. It is pure, so every rule is
// table-tested.
func choosePhone(r sendRecord, n int, views []phoneView, now time.Time, loc *time.Location) choice {
	type scored struct {
		id      int
		refused bool
		use     [3]int // day, hour, minute
	}
	var best *scored
	var cands, ready, busy, fresh int // fresh: ready and not refused lately
	var down []string
	timed := choice{}
	var never *waitInfo
	for _, v := range views {
		if r.Phone != 0 && v.ID != r.Phone {
			continue
		}
		if !allowed(v.Cfg.Allow, r.To) || r.Phone == 0 && slices.Contains(r.Avoid, v.ID) {
			continue
		}
		cands++
		if !v.Ready {
			down = append(down, fmt.Sprintf("phone %d is %s", v.ID, v.Status))
			continue
		}
		ready++
		if !now.Before(v.RefusedUntil) {
			fresh++
		}
		if v.Busy {
			busy++
			continue
		}
		if now.Before(v.GapUntil) {
			timed = earlierWait(timed, choice{Wait: waitInfo{For: waitSendGap, Phone: v.ID, Until: v.GapUntil,
				Detail: fmt.Sprintf("phone %d pauses between sends (send_gap)", v.ID)}})
			continue
		}
		if w, ok := fitLimits(v.Cfg.Limits, v.Parts, n, now, loc); !ok {
			if w.Until.IsZero() {
				if never == nil {
					never = &waitInfo{For: waitLimit, Phone: v.ID,
						Detail: fmt.Sprintf("the message has %d parts; phone %d: %s", n, v.ID, w)}
				}
				continue
			}
			timed = earlierWait(timed, choice{Wait: waitInfo{For: waitLimit, Phone: v.ID, Until: w.Until,
				Detail: fmt.Sprintf("phone %d: %s", v.ID, w)}})
			continue
		}
		if !v.HeldUntil.IsZero() {
			timed = earlierWait(timed, choice{Wait: waitInfo{For: waitLimit, Phone: v.ID, Until: v.HeldUntil,
				Detail: fmt.Sprintf("phone %d keeps its room for an earlier request that waits for its limit", v.ID)}})
			continue
		}
		u := windowsAt(v.Cfg.Limits, v.Parts, now, loc)
		s := scored{id: v.ID, refused: now.Before(v.RefusedUntil), use: [3]int{u[2].Used, u[1].Used, u[0].Used}}
		if best == nil || less(s.refused, s.use, s.id, best.refused, best.use, best.id) {
			best = &s
		}
	}
	if best != nil && best.refused && fresh > 0 {
		// Only a phone whose SIM refused lately is free: wait for another.
		best = nil
		busy++
	}
	switch {
	case best != nil:
		return choice{ID: best.id}
	case cands == 0 && r.Phone != 0:
		return choice{Wait: waitInfo{For: waitPhone, Phone: r.Phone, Detail: fmt.Sprintf("phone %d may not send to %s (allow)", r.Phone, r.To)}}
	case cands == 0:
		return choice{Wait: waitInfo{For: waitPhone, Detail: "no phone may send to " + r.To + avoidNote(r)}}
	case busy > 0:
		// A phone frees with a kick; a timed wait still wakes the queue.
		w := waitInfo{For: waitPhone, Until: timed.Wait.Until, Detail: "every phone that may send it is busy"}
		if r.Phone != 0 {
			w.Phone, w.Detail = r.Phone, fmt.Sprintf("phone %d is busy", r.Phone)
		}
		return choice{Wait: w}
	case !timed.Wait.Until.IsZero():
		return timed
	case ready == 0:
		return choice{Wait: waitInfo{For: waitPhone, Phone: r.Phone, Detail: strings.Join(down, ", ")}}
	case never != nil:
		return choice{Wait: *never}
	default:
		return choice{Wait: waitInfo{For: waitPhone, Phone: r.Phone, Detail: "no phone can take it"}}
	}
}

// less orders phones for choosePhone: not refused lately first, then the
// fewest parts today, this hour and this minute, then the lower id.
func less(ar bool, au [3]int, aid int, br bool, bu [3]int, bid int) bool {
	if ar != br {
		return !ar
	}
	for i := range au {
		if au[i] != bu[i] {
			return au[i] < bu[i]
		}
	}
	return aid < bid
}

// earlierWait returns whichever of two timed waits ends first (a zero
// choice counts as none).
func earlierWait(a, b choice) choice {
	if a.Wait.Until.IsZero() || b.Wait.Until.Before(a.Wait.Until) {
		return b
	}
	return a
}

// avoidNote mentions the phones a request already failed on.
func avoidNote(r sendRecord) string {
	if len(r.Avoid) == 0 {
		return ""
	}
	return fmt.Sprintf(" (phones %v refused it)", r.Avoid)
}
