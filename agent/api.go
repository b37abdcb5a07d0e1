package agent

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/modem"
)

// apiServer is the local HTTP API: a unix socket, and optionally TCP with a
// bearer token.
type apiServer struct {
	srv       *http.Server
	listeners []net.Listener
}

// listenAPI opens the API's listeners.
func (a *Agent) listenAPI(cfg *config.Config) (*apiServer, error) {
	s := &apiServer{}
	mux := a.apiMux()
	if cfg.API.Socket != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.API.Socket), 0o755); err != nil {
			return nil, fmt.Errorf("api socket directory: %w", err)
		}
		_ = os.Remove(cfg.API.Socket) // a stale socket from a crash
		l, err := net.Listen("unix", cfg.API.Socket)
		if err != nil {
			return nil, fmt.Errorf("api socket: %w", err)
		}
		if err := os.Chmod(cfg.API.Socket, 0o660); err != nil {
			l.Close()
			return nil, fmt.Errorf("api socket: %w", err)
		}
		s.listeners = append(s.listeners, l)
	}
	var handler http.Handler = mux
	if cfg.API.Listen != "" {
		l, err := net.Listen("tcp", cfg.API.Listen)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("api listen: %w", err)
		}
		s.listeners = append(s.listeners, l)
		handler = a.requireToken(mux)
	}
	s.srv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	return s, nil
}

// serve runs every listener until ctx ends (shutdown closes them).
func (s *apiServer) serve(ctx context.Context) error {
	errc := make(chan error, len(s.listeners))
	for _, l := range s.listeners {
		go func() { errc <- s.srv.Serve(l) }()
	}
	var first error
	for range s.listeners {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) && first == nil {
			first = err
		}
	}
	return first
}

// shutdown stops accepting requests and waits for the running ones.
func (s *apiServer) shutdown(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}

// close releases listeners that never served.
func (s *apiServer) close() {
	for _, l := range s.listeners {
		l.Close()
	}
}

// requireToken guards the TCP listener: requests over TCP need the bearer
// token; the unix socket is guarded by its file mode.
func (a *Agent) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, isUnix := r.Context().Value(http.LocalAddrContextKey).(*net.UnixAddr); !isUnix {
			token := a.cfg.Load().API.Token
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
				writeError(w, http.StatusUnauthorized, errors.New("missing or wrong bearer token"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// apiMux routes the API.
func (a *Agent) apiMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.handleHealth)
	mux.HandleFunc("GET /metrics", a.handleMetrics)
	mux.HandleFunc("GET /v1/phones", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, a.Phones()) })
	mux.HandleFunc("POST /v1/phones/{id}/enable", a.handlePhoneEnable(true))
	mux.HandleFunc("POST /v1/phones/{id}/disable", a.handlePhoneEnable(false))
	mux.HandleFunc("POST /v1/phones/{id}/reset", a.handlePhoneReset)
	mux.HandleFunc("GET /v1/phones/{id}/trace", a.handlePhoneTrace)
	mux.HandleFunc("GET /v1/outbox/stats", a.handleOutboxStats)
	mux.HandleFunc("POST /v1/sms", a.handleSend)
	mux.HandleFunc("GET /v1/sms/{id}", a.handleSendStatus)
	a.outboxRoutes(mux)
	return mux
}

func (a *Agent) handleHealth(w http.ResponseWriter, _ *http.Request) {
	up, down := 0, 0
	for _, p := range a.Phones() {
		if p.Status == "up" {
			up++
		} else {
			down++
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "phones_up": up, "phones_down": down})
}

func (a *Agent) handleOutboxStats(w http.ResponseWriter, _ *http.Request) {
	st, err := a.out.Stats()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (a *Agent) handleSend(w http.ResponseWriter, r *http.Request) {
	var req SendRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("request body: %w", err))
		return
	}
	st, err := a.Submit(r.Context(), req)
	switch {
	case errors.Is(err, ErrInvalidRequest):
		writeError(w, http.StatusBadRequest, err)
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, err)
	default:
		writeJSON(w, http.StatusAccepted, st)
	}
}

func (a *Agent) handleSendStatus(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("id: %w", err))
		return
	}
	st, err := a.SendStatusOf(id)
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Errorf("send %d: %w", id, err))
	case err != nil:
		writeError(w, http.StatusInternalServerError, err)
	default:
		writeJSON(w, http.StatusOK, st)
	}
}

func (a *Agent) handlePhoneEnable(enabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("id: %w", err))
			return
		}
		if err := a.SetPhoneEnabled(r.Context(), id, enabled); err != nil {
			status := http.StatusInternalServerError
			if errors.Is(err, ErrUnknownPhone) {
				status = http.StatusNotFound
			}
			writeError(w, status, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "send_enabled": enabled})
	}
}

// handlePhoneReset sends AT+CFUN=1,1 to a phone's modem.
func (a *Agent) handlePhoneReset(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("id: %w", err))
		return
	}
	if err := a.ResetPhone(r.Context(), id); err != nil {
		status := http.StatusInternalServerError
		switch {
		case errors.Is(err, ErrUnknownPhone):
			status = http.StatusNotFound
		case errors.Is(err, modem.ErrNotReady):
			status = http.StatusConflict
		}
		writeError(w, status, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "reset": true})
}

// maxTrace bounds how long one trace request streams.
const maxTrace = time.Hour

// handlePhoneTrace streams a phone's AT conversation as JSON lines for
// ?seconds= (default 30, at most an hour) or until the client goes away.
func (a *Agent) handlePhoneTrace(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("id: %w", err))
		return
	}
	d := 30 * time.Second
	if v := r.URL.Query().Get("seconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || time.Duration(n)*time.Second > maxTrace {
			writeError(w, http.StatusBadRequest, fmt.Errorf("seconds: want 1 to %d, got %q", int(maxTrace/time.Second), v))
			return
		}
		d = time.Duration(n) * time.Second
	}
	lines, stop, err := a.TracePhone(id)
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	defer stop()
	// A stream outlives the server's write timeout: extend it for this one.
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(d + 10*time.Second))
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	timer := time.NewTimer(d)
	defer timer.Stop()
	enc := json.NewEncoder(w)
	type traced struct {
		At string `json:"at"`
		modem.TraceLine
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-timer.C:
			return
		case l := <-lines:
			if err := enc.Encode(traced{At: time.Now().UTC().Format("15:04:05.000"), TraceLine: l}); err != nil {
				return
			}
			_ = rc.Flush()
		}
	}
}

// writeJSON answers with v as indented JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// writeError answers with {"error": "..."}.
func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
