package agent

// BalanceStatus is a phone's last balance check (USSD).
type BalanceStatus struct {
	// Code is the USSD code sent.
	Code string `json:"code"`
	// Text is the network's answer, decoded.
	Text string `json:"text,omitempty"`
	// Value is the number found in the answer by the pattern.
	Value *float64 `json:"value,omitempty"`
	// At is when the answer came (RFC 3339).
	At string `json:"at,omitempty"`
	// Error is why the last check failed, if it did.
	Error string `json:"error,omitempty"`
}

// balanceStatus returns the phone's last balance check, or nil when none
// ran.
func (w *worker) balanceStatus() *BalanceStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.balance == nil {
		return nil
	}
	b := *w.balance
	return &b
}
