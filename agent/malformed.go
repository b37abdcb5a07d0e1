package agent

import (
	"net/http"
	"strconv"

	"github.com/simhook/simhook/store"
)

// MalformedPDU is what the agent keeps of a stored PDU the driver could not
// decode, or of a part of a concatenated message whose numbering is
// impossible (a sequence number of 0 or above the count, a count of 0, a
// count that disagrees with the other waiting parts). The driver deletes it
// from the modem only once this record is committed, so the bytes are never
// lost; an operator can read them with `simhook outbox malformed` and decode
// them by hand.
type MalformedPDU = store.MalformedPDU

// MalformedPDUs returns up to limit kept PDUs, newest first.
func (a *Agent) MalformedPDUs(limit int) ([]MalformedPDU, error) {
	return a.st.Malformed(limit)
}

// handleMalformed serves GET /v1/malformed?limit=N.
func (a *Agent) handleMalformed(w http.ResponseWriter, r *http.Request) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 || limit > 10000 {
		limit = 100
	}
	list, err := a.MalformedPDUs(limit)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}
