//go:build unix

package receivers

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// answered is a receiver's HTTP answer to one request.
type answered struct {
	status     int
	retryAfter string
	err        error
}

// TestReceiversInFlight: an id counts as handled only once the handler has
// succeeded. A retry that overtakes a first attempt still in the handler is
// answered 503 with Retry-After (not "200 duplicate": the first attempt may
// yet fail), a failing handler answers 5xx and releases the id, and the next
// retry is then handled; only after that is a retry a duplicate.
func TestReceiversInFlight(t *testing.T) {
	for _, lang := range Langs() {
		t.Run(string(lang), func(t *testing.T) {
			t.Parallel()
			if err := Available(lang); err != nil {
				skipUnlessRequired(t, err.Error())
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			control := t.TempDir()
			p, err := Start(ctx, Config{Lang: lang, Secret: secretKinds[0].secret, ControlDir: control})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := p.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			touch := func(name string) {
				if err := os.WriteFile(filepath.Join(control, name), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			remove := func(name string) {
				if err := os.Remove(filepath.Join(control, name)); err != nil {
					t.Fatal(err)
				}
			}
			client := &http.Client{Timeout: time.Minute}
			send := func(req *http.Request) answered {
				resp, err := client.Do(req.WithContext(ctx))
				if err != nil {
					return answered{err: err}
				}
				resp.Body.Close()
				return answered{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
			}
			e := endpoint{"post", "form", []string{secretKinds[0].secret}}
			m := loadMessages(t)[0]
			now := time.Now()
			expect := func(what string, got answered, status int, outcome string) {
				t.Helper()
				v, err := p.Next(ctx)
				if err != nil {
					t.Fatalf("%s: HTTP %d %v; %v", what, got.status, got.err, err)
				}
				// Each step depends on the one before: stop at the first miss.
				if got.err != nil || got.status != status || v.Outcome != outcome || v.Detail != string(m.Type) || v.ID != m.RandomID {
					t.Fatalf("%s: HTTP %d %v, verdict %q; want %d and %s %s %s", what, got.status, got.err, v.Line, status, outcome, m.Type, m.RandomID)
				}
			}

			// The first attempt enters the handler and stays there.
			touch("block")
			touch("fail")
			first := make(chan answered, 1)
			firstReq := signedRequest(t, p.URL, e, m, now.Add(-10*time.Second))
			go func() { first <- send(firstReq) }()
			if err := waitFile(ctx, filepath.Join(control, "entered")); err != nil {
				t.Fatalf("the handler was not entered: %v; stderr:\n%s", err, p.Stderr())
			}
			// A retry meanwhile: not handled, not taken for a duplicate.
			got := send(signedRequest(t, p.URL, e, m, now.Add(-5*time.Second)))
			expect("retry while the first attempt is handled", got, http.StatusServiceUnavailable, "busy")
			if got.retryAfter != "1" {
				t.Errorf("retry while the first attempt is handled: Retry-After %q, want 1", got.retryAfter)
			}
			// The first attempt fails.
			remove("block")
			expect("first attempt, failing", <-first, http.StatusInternalServerError, "error")
			// The next retry is handled, and the one after is a duplicate.
			remove("fail")
			expect("retry after the failure", send(signedRequest(t, p.URL, e, m, now)), http.StatusOK, "accept")
			expect("retry after the success", send(signedRequest(t, p.URL, e, m, now)), http.StatusOK, "duplicate")
		})
	}
}

// waitFile polls until name exists or ctx is done.
func waitFile(ctx context.Context, name string) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(name); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// TestGoReceiverPanicReleases: a handler that panics must not leave its id
// claimed (every retry would be answered "busy" until the id expires); the
// retry after the panic is handled.
func TestGoReceiverPanicReleases(t *testing.T) {
	if err := Available(Go); err != nil {
		skipUnlessRequired(t, err.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	control := t.TempDir()
	p, err := Start(ctx, Config{Lang: Go, Secret: secretKinds[0].secret, ControlDir: control})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	e := endpoint{"post", "form", []string{secretKinds[0].secret}}
	m := loadMessages(t)[0]
	client := &http.Client{Timeout: time.Minute}
	if err := os.WriteFile(filepath.Join(control, "panic"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if resp, err := client.Do(signedRequest(t, p.URL, e, m, time.Now()).WithContext(ctx)); err == nil {
		resp.Body.Close()
		t.Fatalf("a panicking handler answered HTTP %d", resp.StatusCode)
	}
	if err := os.Remove(filepath.Join(control, "panic")); err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(signedRequest(t, p.URL, e, m, time.Now()).WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the retry after a panic: HTTP %d, want 200", resp.StatusCode)
	}
	v, err := p.Next(ctx)
	if err != nil || v.Outcome != "accept" {
		t.Fatalf("the retry after a panic: verdict %q (%v), want accept", v.Line, err)
	}
}
