package agent

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/simhook/simhook/modem"
	"github.com/simhook/simhook/outbox"
	"github.com/simhook/simhook/webhook"
)

// HandleSMS commits a receive_sms event for a complete message. The driver
// deletes the message from the modem only when this returns nil, so an error
// here (a full disk, a stopping agent) leaves the SMS safely on the SIM.
// The dedupe key is remembered per storage slot until the driver deletes
// the message (see slotsBucket), so reading the same stored SMS again after a
// crash cannot create a second event, while an identical new SMS can.
func (w *worker) HandleSMS(ctx context.Context, m *modem.Message) error {
	a := w.a
	if err := a.disk.refuse(); err != nil {
		// Left on the SIM, where it is safe; the driver offers it again.
		// modem.ErrHeld: the driver retries it without a warning each time.
		a.counter.add("receive_held_disk", 1)
		return fmt.Errorf("%w: %w", modem.ErrHeld, err)
	}
	loc := a.loc.Load()
	key, err := a.receiveDedupeKey(w.id, m)
	if err != nil {
		a.counter.add("receive_errors", 1)
		return err
	}
	res, err := a.out.Enqueue(ctx, outbox.Event{
		Type:      webhook.ReceiveSMS,
		Phone:     w.id,
		DedupeKey: key,
		Time:      a.now(),
		Also:      a.st.RememberSlotsHook(w.id, m.Storage, m.Indexes, key),
		Body: func(id uint64) ([]byte, error) {
			return json.Marshal(webhook.ReceiveSMSBody{
				ID:          int64(id),
				At:          webhook.FormatDate(m.SCTS, loc),
				Text:        m.Text,
				Destination: w.id,
				Origin:      m.Originator,
				Command:     false,
				MMS:         false,
				Medias:      []string{},
			})
		},
	})
	if err != nil {
		a.counter.add("receive_errors", 1)
		w.log.Error("received SMS not committed; it stays on the modem", "err", err, "origin", m.Originator)
		return fmt.Errorf("commit received SMS: %w", err)
	}
	if res.Duplicate {
		a.counter.add("receive_duplicates", 1)
		w.log.Info("SMS already committed; confirming it again", "event", res.ID)
		return nil
	}
	if m.Incomplete {
		a.counter.add("receive_incomplete", 1)
		w.log.Warn("concatenated SMS delivered incomplete after timeout", "event", res.ID, "parts", m.Parts, "present", len(m.PDUs))
	}
	w.log.Debug("SMS committed", "event", res.ID, "origin", m.Originator, "parts", m.Parts)
	return nil
}

// HandleMalformed keeps an undecodable PDU in the state file, so the driver
// may delete it from the modem and the messages behind it keep flowing.
func (w *worker) HandleMalformed(ctx context.Context, phone, index int, pdu []byte, cause error) error {
	a := w.a
	a.counter.add("malformed_pdus", 1)
	rec := MalformedPDU{Phone: phone, Index: index, PDU: hex.EncodeToString(pdu), Error: cause.Error(), At: a.now().UTC().Format("2006-01-02T15:04:05Z")}
	w.log.Warn("malformed PDU kept for inspection", "index", index, "err", cause)
	if err := a.st.AddMalformed(ctx, rec); err != nil {
		return err
	}
	a.kickPrune() // the count cap may be exceeded now
	return nil
}
