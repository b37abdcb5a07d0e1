// Package redact masks credentials in URLs, and in text that quotes URLs
// such as error messages, before they leave the process: logs, the errors
// stored with deliveries, the API's answers and the printed configuration.
//
// Webhook URLs often carry credentials: userinfo, a token in the query
// string, or a key in the path (Slack, Mattermost, Discord and Telegram put
// theirs there). Go's *url.Error quotes the whole URL of a failed request,
// query included, so an unreachable endpoint would otherwise write its token
// into every log line about it.
package redact

import (
	"errors"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Mask replaces each credential.
const Mask = "REDACTED"

// minTokenLen is the shortest path segment taken for a token.
const minTokenLen = 20

// URL masks the credentials of a URL: the whole userinfo, every query
// value (the names are kept; an item without "=" is masked whole), the
// fragment, and the path segments that look like tokens (see tokenLike).
// It works on the text, so a URL that does not parse is masked as well.
func URL(raw string) string {
	var b strings.Builder
	rest := raw
	if i := strings.Index(rest, "://"); i >= 0 {
		b.WriteString(rest[:i+3])
		rest = rest[i+3:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		authority := rest[:end]
		if at := strings.LastIndexByte(authority, '@'); at >= 0 {
			b.WriteString(Mask)
			authority = authority[at:]
		}
		b.WriteString(authority)
		rest = rest[end:]
	}
	fragment := ""
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest, fragment = rest[:i], rest[i+1:]
	}
	path, query, hasQuery := strings.Cut(rest, "?")
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if tokenLike(s) {
			segs[i] = Mask
		}
	}
	b.WriteString(strings.Join(segs, "/"))
	if hasQuery {
		b.WriteByte('?')
		b.WriteString(maskQuery(query))
	}
	if fragment != "" {
		b.WriteString("#" + Mask)
	}
	return b.String()
}

// maskQuery masks the values of a raw query string, "&" and ";" both
// separating items.
func maskQuery(q string) string {
	var b strings.Builder
	for q != "" {
		item, sep := q, ""
		if i := strings.IndexAny(q, "&;"); i >= 0 {
			item, sep, q = q[:i], q[i:i+1], q[i+1:]
		} else {
			q = ""
		}
		if name, _, ok := strings.Cut(item, "="); ok {
			b.WriteString(name + "=" + Mask)
		} else if item != "" {
			b.WriteString(Mask)
		}
		b.WriteString(sep)
	}
	return b.String()
}

// tokenLike reports whether a path segment looks like a key rather than a
// name: at least minTokenLen characters of letters, digits and -_.:~%, with
// a digit or with both cases (a generated key), such as Slack's
// "AbCdEfGhIjKlMnOpQrStUvWx" or Mattermost's "3k9fz1q8bjrg5muwo7xhc4a2ne",
// but not "receive-sms-endpoint".
func tokenLike(s string) bool {
	if len(s) < minTokenLen {
		return false
	}
	var digit, upper, lower bool
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digit = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= 'a' && r <= 'z':
			lower = true
		case strings.ContainsRune("-_.:~%", r):
		default:
			return false
		}
	}
	return digit || (upper && lower)
}

// urlInText finds URLs quoted in text: a scheme, "://", then anything up to
// a space or a double quote (a single quote is legal in a URL).
var urlInText = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"]+`)

// String masks every URL in s.
func String(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return urlInText.ReplaceAllStringFunc(s, URL)
}

// Error returns err with every URL in its message masked. The result wraps
// err, so errors.Is and errors.As still see through it; what it prints is
// masked. nil stays nil, and an error whose message has nothing to mask is
// returned as it is.
func Error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	masked := msg
	// A failed request's *url.Error quotes its URL with %q: replace that
	// exact text first, since a quote inside the URL, escaped there, would
	// end the generic match early and leave the rest in clear.
	var ue *url.Error
	if errors.As(err, &ue) && ue.URL != "" {
		masked = strings.ReplaceAll(masked, strconv.Quote(ue.URL), strconv.Quote(URL(ue.URL)))
		masked = strings.ReplaceAll(masked, ue.URL, URL(ue.URL))
	}
	masked = String(masked)
	if masked == msg {
		return err
	}
	return &maskedError{msg: masked, err: err}
}

// maskedError is an error whose message was masked.
type maskedError struct {
	msg string
	err error
}

func (e *maskedError) Error() string { return e.msg }
func (e *maskedError) Unwrap() error { return e.err }
