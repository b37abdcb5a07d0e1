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
	"sync"
	"time"

	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/modem"
)

// APILimits bounds the local API's connections, so that a client, even
// one without the token, cannot hold them open for ever.
type APILimits struct {
	// ReadHeaderTimeout bounds reading a request's headers, and so how long
	// a new connection may send nothing (default 10s).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included (default
	// 30s); WriteTimeout bounds handling it and writing the answer (default
	// 60s); IdleTimeout bounds the wait for the next request on a kept-alive
	// connection (default 60s). POST /v1/outbox/import, which may carry a
	// large salvage, gets ImportTimeout for both (default 10m).
	ReadTimeout, WriteTimeout, IdleTimeout, ImportTimeout time.Duration
	// MaxConns caps the TCP listener's open connections (default 64);
	// further ones wait in the kernel's backlog until one closes.
	MaxConns int
}

func (l APILimits) withDefaults() APILimits {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&l.ReadHeaderTimeout, 10*time.Second)
	def(&l.ReadTimeout, 30*time.Second)
	def(&l.WriteTimeout, time.Minute)
	def(&l.IdleTimeout, time.Minute)
	def(&l.ImportTimeout, 10*time.Minute)
	if l.MaxConns <= 0 {
		l.MaxConns = 64
	}
	return l
}

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
	lim := a.opts.API.withDefaults()
	var handler http.Handler = mux
	if cfg.API.Listen != "" {
		l, err := net.Listen("tcp", cfg.API.Listen)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("api listen: %w", err)
		}
		if !isLoopback(l.Addr()) {
			a.log.Warn("api.listen is not a loopback address: the bearer token and the API's answers travel in clear text; put a TLS reverse proxy in front or listen on 127.0.0.1",
				"listen", cfg.API.Listen)
		}
		s.listeners = append(s.listeners, newLimitListener(l, lim.MaxConns))
		handler = a.requireToken(mux)
	}
	s.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       lim.IdleTimeout,
	}
	return s, nil
}

// isLoopback reports whether addr is a loopback address (127.0.0.0/8, ::1).
func isLoopback(addr net.Addr) bool {
	ta, ok := addr.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// limitListener caps how many accepted connections are open at once: at the
// cap, Accept waits until one of them closes, and further clients wait in
// the kernel's backlog.
type limitListener struct {
	net.Listener
	slots chan struct{} // one token per open connection
	done  chan struct{} // closed by Close
	once  sync.Once
}

func newLimitListener(l net.Listener, n int) *limitListener {
	return &limitListener{Listener: l, slots: make(chan struct{}, n), done: make(chan struct{})}
}

// Accept waits for a free slot, then for a connection.
func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, free: func() { <-l.slots }}, nil
}

// Close closes the listener and wakes an Accept waiting for a slot.
func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn gives its slot back once, when closed.
type limitConn struct {
	net.Conn
	once sync.Once
	free func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.free)
	return err
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
	mux.HandleFunc("POST /v1/ussd", a.handleUSSD)
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
	case errors.Is(err, ErrDiskLow):
		writeError(w, http.StatusInsufficientStorage, err)
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, err)
	default:
		writeJSON(w, http.StatusAccepted, st)
	}
}

func (a *Agent) handleUSSD(w http.ResponseWriter, r *http.Request) {
	var req USSDRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("request body: %w", err))
		return
	}
	res, err := a.USSD(r.Context(), req)
	switch {
	case errors.Is(err, ErrInvalidRequest):
		writeError(w, http.StatusBadRequest, err)
	case errors.Is(err, ErrUnknownPhone):
		writeError(w, http.StatusNotFound, err)
	case errors.Is(err, modem.ErrNotReady):
		writeError(w, http.StatusServiceUnavailable, err)
	case errors.Is(err, modem.ErrUSSDTimeout):
		writeError(w, http.StatusGatewayTimeout, err)
	case err != nil:
		writeError(w, http.StatusBadGateway, err)
	default:
		writeJSON(w, http.StatusOK, res)
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
		id, ok := phoneID(w, r)
		if !ok {
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

// phoneID reads the {id} of a /v1/phones/{id}/... path, answering 400 if it
// is not a number.
func phoneID(w http.ResponseWriter, r *http.Request) (int, bool) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("id: %w", err))
		return 0, false
	}
	return id, true
}

// handlePhoneReset sends AT+CFUN=1,1 to a phone's modem.
func (a *Agent) handlePhoneReset(w http.ResponseWriter, r *http.Request) {
	id, ok := phoneID(w, r)
	if !ok {
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
	id, ok := phoneID(w, r)
	if !ok {
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
	defer func() {
		if n := stop(); n > 0 {
			a.log.Warn("trace reader too slow: lines dropped", "phone", id, "dropped", n)
		}
	}()
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
