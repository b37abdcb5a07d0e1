package webhook

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultTolerance is how far a request's webhook-timestamp may be from the
// receiver's clock, either way, before it is refused.
const DefaultTolerance = 5 * time.Minute

// Errors returned by the verification functions and ParseRequest, for
// errors.Is. The returned errors wrap one of them and say more.
var (
	// ErrNoSignature means the request carries no signature of the scheme
	// checked (no webhook-* headers, or an empty webhook_signature).
	ErrNoSignature = errors.New("webhook: signature missing")
	// ErrBadSignature means a signature is present but matches no secret
	// (a changed body, another secret, a truncated or garbled signature).
	ErrBadSignature = errors.New("webhook: signature does not match")
	// ErrTimestampTooOld means webhook-timestamp is older than the tolerance
	// allows: a replay, or a request that waited too long.
	ErrTimestampTooOld = errors.New("webhook: timestamp too old")
	// ErrTimestampTooNew means webhook-timestamp is further in the future
	// than the tolerance allows: a clock is wrong.
	ErrTimestampTooNew = errors.New("webhook: timestamp too far in the future")
	// ErrMalformed means the request is not readable as a simhook webhook.
	ErrMalformed = errors.New("webhook: malformed request")
	// ErrInvalidSecret means a configured secret cannot be used as a key.
	ErrInvalidSecret = errors.New("webhook: invalid secret")
)

// The Standard Webhooks header names.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// VerifyLegacy checks a RaspiSMS webhook_signature: lowercase (or uppercase)
// hex HMAC-SHA256 of randomID with the secret's raw bytes as key, compared
// in constant time. An empty signature wraps ErrNoSignature; anything else
// that does not match, ErrBadSignature.
func VerifyLegacy(secret, randomID, signature string) error {
	if signature == "" {
		return fmt.Errorf("webhook: no webhook_signature: %w", ErrNoSignature)
	}
	if secret == "" {
		return errNoKeys
	}
	got, err := hex.DecodeString(signature)
	if err != nil || len(got) != 32 {
		return fmt.Errorf("webhook: webhook_signature is not 64 hex digits: %w", ErrBadSignature)
	}
	if !hmac.Equal(got, legacyMAC(secret, randomID)) {
		return fmt.Errorf("webhook: webhook_signature: %w", ErrBadSignature)
	}
	return nil
}

// VerifyStandard checks the Standard Webhooks headers of h (webhook-id,
// webhook-timestamp, webhook-signature) over body, the exact bytes received
// (for GET, the raw query string). It succeeds when the timestamp is within
// tolerance of now (DefaultTolerance when tolerance is 0 or less) and one of
// the header's "v1," signatures matches one of the secrets (see SecretKey),
// compared in constant time. Several secrets are for rotation: the request
// passes with any of them.
//
// Missing headers wrap ErrNoSignature, an unreadable timestamp
// ErrMalformed, a stale or future timestamp ErrTimestampTooOld or
// ErrTimestampTooNew, and a signature that matches no secret
// ErrBadSignature. The timestamp is judged first, so a replayed request is
// refused without computing any HMAC.
func VerifyStandard(secrets []string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	// Several webhook-signature lines count as one space-separated list.
	id, stamp, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), strings.Join(h.Values(HeaderSignature), " ")
	if id == "" || stamp == "" || strings.TrimSpace(sigs) == "" {
		var missing []string
		for _, kv := range [][2]string{{HeaderID, id}, {HeaderTimestamp, stamp}, {HeaderSignature, sigs}} {
			if kv[1] == "" {
				missing = append(missing, kv[0])
			}
		}
		return fmt.Errorf("webhook: header %s missing: %w", strings.Join(missing, ", "), ErrNoSignature)
	}
	ts, err := strconv.ParseInt(stamp, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook: webhook-timestamp %q is not Unix seconds: %w", clip(stamp, 32), ErrMalformed)
	}
	if err := checkTimestamp(ts, now, tolerance); err != nil {
		return err
	}
	keys, err := keysOf(secrets)
	if err != nil {
		return err
	}
	for _, k := range keys {
		want := standardMAC(k, id, ts, body)
		for sig := range strings.FieldsSeq(sigs) {
			b64, ok := strings.CutPrefix(sig, signaturePrefix)
			if !ok {
				continue // another scheme (v1a, ...): not ours to judge
			}
			got, err := base64.StdEncoding.DecodeString(b64)
			if err == nil && hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return fmt.Errorf("webhook: webhook-signature matches none of %d secret(s): %w", len(keys), ErrBadSignature)
}

// checkTimestamp judges an attempt's time against now.
func checkTimestamp(ts int64, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	// Compare in seconds: time.Unix of an absurd value must not overflow.
	age := now.Unix() - ts
	limit := int64(tolerance / time.Second)
	switch {
	case age > limit:
		return fmt.Errorf("webhook: webhook-timestamp %d is %s old, beyond the %s tolerance: %w",
			ts, ageString(age), tolerance, ErrTimestampTooOld)
	case age < -limit:
		return fmt.Errorf("webhook: webhook-timestamp %d is %s in the future, beyond the %s tolerance: %w",
			ts, ageString(-age), tolerance, ErrTimestampTooNew)
	}
	return nil
}

// ageString prints a number of seconds as a duration, without overflowing.
func ageString(s int64) string {
	if s < 0 || s > int64(1<<62)/int64(time.Second) {
		return strconv.FormatInt(s, 10) + "s"
	}
	return (time.Duration(s) * time.Second).String()
}

// keysOf turns secrets into keys. Unusable secrets are an error only when no
// usable one is left.
func keysOf(secrets []string) ([][]byte, error) {
	keys := make([][]byte, 0, len(secrets))
	var firstErr error
	for _, s := range secrets {
		k, err := SecretKey(s)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		if firstErr != nil {
			return nil, firstErr
		}
		return nil, errNoKeys
	}
	return keys, nil
}

// clip shortens s for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
