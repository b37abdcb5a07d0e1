package config

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/simhook/simhook/internal/redact"
)

// CredentialsDirEnv is the environment variable systemd sets to the directory
// holding a service's credentials (LoadCredential=, SetCredential=).
const CredentialsDirEnv = "CREDENTIALS_DIRECTORY"

// maxSecretFile bounds how much of a secret file is read.
const maxSecretFile = 64 << 10

// checkExclusive reports values given both inline and as a file.
func checkExclusive(c *Config, lines map[string]int, errs *errList) {
	pair := func(prefix, inline, file, value, fileValue string) {
		if value != "" && fileValue != "" {
			key := join(prefix, file)
			errs.add(key, lineOf(lines, key), "set either %s or %s, not both", inline, file)
		}
	}
	pair("api", "token", "token_file", c.API.Token, c.API.TokenFile)
	pair("fleet", "token", "token_file", c.Fleet.Token, c.Fleet.TokenFile)
	pair("fleet", "secret", "secret_file", c.Fleet.Secret, c.Fleet.SecretFile)
	for i, p := range c.Phones {
		pair(fmt.Sprintf("phones[%d]", i), "pin", "pin_file", p.PIN, p.PINFile)
	}
	for i, w := range c.Webhooks {
		pair(fmt.Sprintf("webhooks[%d]", i), "secret", "secret_file", w.Secret, w.SecretFile)
	}
}

// resolveSecrets reads every *_file into its value.
func resolveSecrets(c *Config, lines map[string]int, errs *errList) {
	base := filepath.Dir(c.Path)
	read := func(key, name string, dst *string) {
		if name == "" {
			return
		}
		v, err := ReadSecretFile(name, base)
		if err != nil {
			errs.add(key, lineOf(lines, key), "%v", err)
			return
		}
		*dst = v
	}
	read("api.token_file", c.API.TokenFile, &c.API.Token)
	read("fleet.token_file", c.Fleet.TokenFile, &c.Fleet.Token)
	read("fleet.secret_file", c.Fleet.SecretFile, &c.Fleet.Secret)
	for i := range c.Phones {
		p := &c.Phones[i]
		read(fmt.Sprintf("phones[%d].pin_file", i), p.PINFile, &p.PIN)
	}
	for i := range c.Webhooks {
		w := &c.Webhooks[i]
		read(fmt.Sprintf("webhooks[%d].secret_file", i), w.SecretFile, &w.Secret)
	}
}

// SecretPath returns where a secret file name points: an absolute name as it
// is; a relative one under $CREDENTIALS_DIRECTORY when that is set, else under
// base (the configuration file's directory).
func SecretPath(name, base string) string {
	if filepath.IsAbs(name) {
		return name
	}
	if dir := os.Getenv(CredentialsDirEnv); dir != "" {
		return filepath.Join(dir, name)
	}
	return filepath.Join(base, name)
}

// ReadSecretFile reads a secret from a file (see SecretPath), without its
// trailing newline. An empty secret is an error.
func ReadSecretFile(name, base string) (string, error) {
	p := SecretPath(name, base)
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("cannot read secret file: %w", err)
	}
	defer f.Close()
	buf, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", fmt.Errorf("cannot read secret file %s: %w", p, err)
	}
	if len(buf) > maxSecretFile {
		return "", fmt.Errorf("secret file %s is larger than %d bytes", p, maxSecretFile)
	}
	s := strings.TrimRight(string(buf), "\r\n")
	if s == "" {
		return "", fmt.Errorf("secret file %s is empty", p)
	}
	return s, nil
}

// AllSecrets returns the webhook's signing secrets, current first, then the
// old ones still accepted during a rotation. Secrets read from files are
// included (Load reads them into Secret). Duplicates are dropped.
func (w *Webhook) AllSecrets() []string {
	out := make([]string, 0, 1+len(w.Secrets))
	seen := make(map[string]bool, 1+len(w.Secrets))
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	add(w.Secret)
	for _, s := range w.Secrets {
		add(s)
	}
	return out
}

// sensitiveNames are fragments of header and custom_data names whose
// values Redacted hides.
var sensitiveNames = []string{"token", "secret", "key", "cookie", "pass", "auth",
	"session", "signature", "credential", "private"}

// sensitiveName reports whether a header or field name looks like it holds
// a credential.
func sensitiveName(name string) bool {
	ln := strings.ToLower(name)
	for _, s := range sensitiveNames {
		if strings.Contains(ln, s) {
			return true
		}
	}
	return false
}

// Redacted returns a deep copy of c with every secret replaced by
// RedactedValue: webhook secrets, PINs, the API token, and the values of
// headers and custom_data fields whose names look like credentials
// (Authorization, *Token*, *Key*, *Session*, ...). Webhook URLs keep their
// scheme, host, query names and ordinary path, with their credentials
// (userinfo, query values, path segments that look like keys) masked by
// redact.URL.
func (c *Config) Redacted() *Config {
	r := c.Clone()
	hide := func(s *string) {
		if *s != "" {
			*s = RedactedValue
		}
	}
	hide(&r.API.Token)
	hide(&r.Fleet.Token)
	hide(&r.Fleet.Secret)
	for i := range r.Fleet.NATS {
		r.Fleet.NATS[i] = redact.URL(r.Fleet.NATS[i])
	}
	for i := range r.Phones {
		hide(&r.Phones[i].PIN)
	}
	for i := range r.Webhooks {
		w := &r.Webhooks[i]
		w.URL = redact.URL(w.URL)
		hide(&w.Secret)
		for j := range w.Secrets {
			hide(&w.Secrets[j])
		}
		for k := range w.Headers {
			if sensitiveName(k) {
				w.Headers[k] = RedactedValue
			}
		}
		for k := range w.CustomData {
			if sensitiveName(k) {
				w.CustomData[k] = RedactedValue
			}
		}
	}
	return r
}
