package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// WhsecPrefix marks a Standard Webhooks secret whose key is base64-encoded
// after the prefix.
const WhsecPrefix = "whsec_"

// SecretKey returns the HMAC key of a configured secret for the Standard
// Webhooks signature: the secret's bytes, or, when it starts with "whsec_",
// the base64 (standard alphabet, padded or not) decoding of the rest. An
// empty secret or key, or a whsec_ secret that is not base64, is an error
// wrapping ErrInvalidSecret.
func SecretKey(secret string) ([]byte, error) {
	if secret == "" {
		return nil, fmt.Errorf("webhook: empty secret: %w", ErrInvalidSecret)
	}
	rest, ok := strings.CutPrefix(secret, WhsecPrefix)
	if !ok {
		return []byte(secret), nil
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(rest)
	}
	if err != nil {
		return nil, fmt.Errorf("webhook: secret starts with %q but the rest is not base64: %w", WhsecPrefix, ErrInvalidSecret)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("webhook: secret %q has an empty key: %w", WhsecPrefix, ErrInvalidSecret)
	}
	return key, nil
}

// LegacySignature returns the RaspiSMS webhook_signature: lowercase hex
// HMAC-SHA256 with the secret's raw bytes as key over randomID.
//
// The key is the configured string as it is, even for a "whsec_" secret:
// RaspiSMS and the receivers written for it hash with the string they were
// given, so only the Standard Webhooks signature decodes whsec_ keys.
func LegacySignature(secret, randomID string) string {
	return hex.EncodeToString(legacyMAC(secret, randomID))
}

func legacyMAC(secret, randomID string) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(randomID))
	return mac.Sum(nil)
}

// StandardSignature returns one Standard Webhooks signature, "v1,<base64>",
// of HMAC-SHA256 with key over id + "." + timestamp + "." + body. body is the
// exact bytes sent: the request body, or for GET the raw query string.
func StandardSignature(key []byte, id string, timestamp int64, body []byte) string {
	sum := standardMAC(key, id, timestamp, body)
	out := make([]byte, 0, len(signaturePrefix)+base64.StdEncoding.EncodedLen(len(sum)))
	out = append(out, signaturePrefix...)
	out = base64.StdEncoding.AppendEncode(out, sum)
	return string(out)
}

// signaturePrefix is the version tag of the one signature scheme used.
const signaturePrefix = "v1,"

func standardMAC(key []byte, id string, timestamp int64, body []byte) []byte {
	mac := hmac.New(sha256.New, key)
	var ts [20]byte
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(ts[:0], timestamp, 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return mac.Sum(nil)
}

// signatureHeader joins one signature per key, space-separated, as the
// webhook-signature header carries them during a rotation.
func signatureHeader(keys [][]byte, id string, timestamp int64, body []byte) string {
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(StandardSignature(k, id, timestamp, body))
	}
	return b.String()
}

// errNoKeys is returned when there is no secret to sign or verify with.
var errNoKeys = fmt.Errorf("webhook: no secret configured: %w", ErrInvalidSecret)
