//go:build unix

package receivers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// referenceCase is one request for node-reference/verify.js.
type referenceCase struct {
	Name          string            `json:"name"`
	Secret        string            `json:"secret"`
	RawKey        bool              `json:"raw_key"`
	UTF8Key       bool              `json:"utf8_key"`
	Headers       map[string]string `json:"headers"`
	PayloadBase64 string            `json:"payload_base64"`
}

// referenceResult is verify.js's answer for one case.
type referenceResult struct {
	Name                   string `json:"name"`
	Outcome                string `json:"outcome"`
	Message                string `json:"message"`
	VerifiedWithoutParsing bool   `json:"verified_without_parsing"`
}

// TestStandardWebhooksReference hands requests built by the webhook package
// to the published `standardwebhooks` npm package, a verifier not written in
// this repository. JSON bodies verify outright. Form and GET payloads pass the
// signature and then fail only in the library's JSON.parse (SyntaxError, not
// its WebhookVerificationError), and verify with jsonParse off, as SPEC §2
// and docs/RECEIVING.md say. Tampered, wrongly keyed and stale requests fail
// the signature. A non-ASCII secret handed over as a string fails too: the
// library's format "raw" makes one byte of each character's char code where
// simhook keys with the UTF-8 bytes; handed over as those bytes, it verifies
// (docs/RECEIVING.md §6 says so; if a new version of the library changes
// this, the test tells).
func TestStandardWebhooksReference(t *testing.T) {
	modules := referenceModules(t)
	now := time.Now()
	plain := "reference-test-secret"
	whsec := "whsec_" + base64.StdEncoding.EncodeToString([]byte("a 24-byte key for tests"))
	old := "the-previous-secret"
	nonASCII := "clé-secrète-€"
	m := loadMessages(t)[0]

	type want struct {
		outcome        string
		withoutParsing bool
	}
	tests := []struct {
		name     string
		endpoint endpoint
		attempt  time.Time
		verifier string // the secret the library is given
		utf8Key  bool   // give the library the secret's UTF-8 bytes, not the string
		tamper   bool
		want     want
	}{
		{"json body, ordinary secret", endpoint{"post", "json", []string{plain}}, now, plain, false, false, want{"verified", true}},
		{"json body, whsec secret", endpoint{"post", "json", []string{whsec}}, now, whsec, false, false, want{"verified", true}},
		{"form body: signature passes, JSON.parse throws", endpoint{"post", "form", []string{plain}}, now, plain, false, false, want{"parse_error", true}},
		{"form body, whsec secret", endpoint{"post", "form", []string{whsec}}, now, whsec, false, false, want{"parse_error", true}},
		{"GET query string as payload", endpoint{"get", "form", []string{plain}}, now, plain, false, false, want{"parse_error", true}},
		{"rotation: library knows the previous secret", endpoint{"post", "json", []string{plain, old}}, now, old, false, false, want{"verified", true}},
		{"tampered form body", endpoint{"post", "form", []string{plain}}, now, plain, false, true, want{"signature_error", false}},
		{"tampered json body", endpoint{"post", "json", []string{plain}}, now, plain, false, true, want{"signature_error", false}},
		{"wrong secret", endpoint{"post", "json", []string{old}}, now, plain, false, false, want{"signature_error", false}},
		{"attempt 6 minutes old", endpoint{"post", "json", []string{plain}}, now.Add(-6 * time.Minute), plain, false, false, want{"signature_error", false}},
		{"non-ASCII secret as a string: keyed by char codes, not UTF-8", endpoint{"post", "json", []string{nonASCII}}, now, nonASCII, false, false, want{"signature_error", false}},
		{"non-ASCII secret as its UTF-8 bytes", endpoint{"post", "json", []string{nonASCII}}, now, nonASCII, true, false, want{"verified", true}},
	}
	var cases []referenceCase
	for _, tt := range tests {
		req := signedRequest(t, "http://127.0.0.1:9/hook", tt.endpoint, m, tt.attempt)
		if tt.tamper {
			tamper(t, req, "Hello", "Jello")
		}
		cases = append(cases, referenceCase{
			Name: tt.name, Secret: tt.verifier, RawKey: !isWhsec(tt.verifier), UTF8Key: tt.utf8Key,
			Headers: map[string]string{
				"webhook-id":        req.Header.Get("webhook-id"),
				"webhook-timestamp": req.Header.Get("webhook-timestamp"),
				"webhook-signature": req.Header.Get("webhook-signature"),
			},
			PayloadBase64: base64.StdEncoding.EncodeToString(signedBytes(t, req)),
		})
	}
	results := runReference(t, modules, cases)
	if len(results) != len(tests) {
		t.Fatalf("verify.js returned %d results for %d cases", len(results), len(tests))
	}
	for i, tt := range tests {
		got := results[i]
		if got.Name != tt.name || got.Outcome != tt.want.outcome || got.VerifiedWithoutParsing != tt.want.withoutParsing {
			t.Errorf("%s: standardwebhooks says %+v, want outcome %s, verified without parsing %v",
				tt.name, got, tt.want.outcome, tt.want.withoutParsing)
		}
	}
}

func isWhsec(secret string) bool { return len(secret) > 6 && secret[:6] == "whsec_" }

// runReference feeds the cases to node-reference/verify.js.
func runReference(t *testing.T, modules string, cases []referenceCase) []referenceResult {
	t.Helper()
	input, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(SourceDir(), "node-reference", "verify.js"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node verify.js: %v\n%s", err, stderr.String())
	}
	var results []referenceResult
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatalf("verify.js output %q: %v", out, err)
	}
	return results
}

// referenceModules returns a node_modules directory holding the locked
// standardwebhooks package, installing it with `npm ci` on first use into the
// user cache (keyed by the lock file's hash, so a changed lock reinstalls).
func referenceModules(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipUnlessRequired(t, fmt.Sprintf("the standardwebhooks reference check needs %s: %v", tool, err))
		}
	}
	src := filepath.Join(SourceDir(), "node-reference")
	pkg, err1 := os.ReadFile(filepath.Join(src, "package.json"))
	lock, err2 := os.ReadFile(filepath.Join(src, "package-lock.json"))
	if err1 != nil || err2 != nil {
		t.Fatalf("node-reference: %v %v", err1, err2)
	}
	sum := sha256.Sum256(append(append([]byte{}, pkg...), lock...))
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "simhook-test", "node-reference-"+hex.EncodeToString(sum[:8]))
	modules := filepath.Join(dir, "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "standardwebhooks", "package.json")); err == nil {
		return modules
	}
	// Install beside the final place, then rename: concurrent test runs never
	// see a half-installed tree.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	for name, data := range map[string][]byte{"package.json": pkg, "package-lock.json": lock} {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	npm := exec.CommandContext(ctx, "npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
	npm.Dir = tmp
	if out, err := npm.CombinedOutput(); err != nil {
		skipUnlessRequired(t, fmt.Sprintf("npm ci of the standardwebhooks reference failed (no registry access?): %v\n%s", err, out))
	}
	if err := os.Rename(tmp, dir); err != nil && !os.IsExist(err) {
		if _, statErr := os.Stat(filepath.Join(modules, "standardwebhooks")); statErr != nil {
			t.Fatalf("installing node-reference: %v", err)
		}
	}
	return modules
}
