package outbox

// ClassifyAnswer names what the dispatcher does with an attempt that got
// the HTTP status, or err when no answer came (status 0): one of
// OutcomeDelivered, OutcomeRetry, OutcomeNetwork, OutcomeClientError or
// OutcomeDisabled, as SPEC section 3 says. `simhook webhook test` reports
// its test deliveries with it.
func ClassifyAnswer(status int, err error) string {
	return classify(attemptResult{status: status, err: err})
}
