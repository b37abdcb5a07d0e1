package agent

import (
	"context"
	"time"

	"github.com/simhook/simhook/modem"
	"github.com/simhook/simhook/store"
)

// SeedSend stores a send request as an earlier run left it, with the
// report-matching entries of its references, so that tests can set up what
// only weeks of traffic or a crash would produce.
func SeedSend(a *Agent, id uint64, phone int, to, state, status string, refs []int, mark uint64) error {
	r := sendRecord{
		ID: id, To: to, Text: "seeded", Tag: "seed", StatusReport: true, State: state, Status: status,
		UsedPhone: phone, Refs: refs, Handed: len(refs), Attempts: 1, Created: time.Now(), ReportMark: mark,
	}
	if state != stateSending {
		r.Parts = make([]string, len(refs))
		r.SentAt = time.Now()
	}
	return a.st.SaveSend(context.Background(), r)
}

// SeedKeptReport stores a delivery report as kept, as if it had arrived at
// arrived without matching a send. It returns its sequence number.
func SeedKeptReport(a *Agent, rep modem.StatusReport, arrived time.Time) (uint64, error) {
	return a.storeReport(context.Background(), rep.Phone, rep, arrived)
}

// SeedInterrupted stores a request as a crash left it on phone 1: in the
// sending state, with handed parts given to the modem and refs answered.
func SeedInterrupted(a *Agent, id uint64, to, text string, handed int, refs []int) error {
	return a.st.SaveSend(context.Background(), sendRecord{
		ID: id, To: to, Text: text, State: stateSending, UsedPhone: 1, Refs: refs,
		Handed: handed, Attempts: 1, Created: time.Now(),
	})
}

// SeedCall stores call as the call in progress on phone, as a run that could
// not commit the call's end leaves it.
func SeedCall(a *Agent, phone int, call store.Call) error {
	return a.st.Apply(context.Background(), call.ID, a.st.StartCallHook(phone, &call))
}
