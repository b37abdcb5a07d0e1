package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Errors of a Node.
var (
	// ErrNotConnected is returned by Publish and PutPhone while the Node
	// has no connection, or has not yet set up the streams.
	ErrNotConnected = errors.New("fleet: not connected")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("fleet: node closed")
)

// timing holds a Node's delays; tests shorten them.
type timing struct {
	reconnectWait time.Duration // between connection attempts
	setupRetry    time.Duration // between attempts to create what is missing
	pollEvery     time.Duration // Serve looks at least this often
	idleWait      time.Duration // how long an idle Serve's pull waits on the server
	setupTimeout  time.Duration // bound of one setup
	ackTimeout    time.Duration // bound of a confirmed ack
}

var defaultTiming = timing{
	reconnectWait: 2 * time.Second,
	setupRetry:    2 * time.Second,
	pollEvery:     3 * time.Second,
	idleWait:      time.Second,
	setupTimeout:  10 * time.Second,
	ackTimeout:    10 * time.Second,
}

// Node is a gateway's connection to the fleet. Its methods are safe for
// concurrent use.
type Node struct {
	log *slog.Logger
	tm  timing

	mu      sync.Mutex
	cfg     Config
	conn    connSettings
	link    *link
	closed  bool
	done    chan struct{} // closed by Close
	changed chan struct{} // closed and replaced when the link's state changes
}

// link is one connection and what was set up on it.
type link struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	kick chan struct{} // wakes the supervisor
	stop chan struct{} // closed to stop the supervisor
	wg   sync.WaitGroup

	mu    sync.Mutex
	ready bool
	own   jetstream.Consumer // simhook.send.<gateway>
	any   jetstream.Consumer // simhook.send
	kv    jetstream.KeyValue
	// claims is the claims bucket, got on first use (see Claim).
	claims jetstream.KeyValue
}

// Start checks cfg (with its defaults applied) and starts connecting in the
// background. It fails only for a bad configuration: an invalid gateway
// name or URL, or an unreadable credentials or TLS file; a server that
// cannot be reached is retried without end.
func Start(cfg Config, log *slog.Logger) (*Node, error) {
	return start(cfg, log, defaultTiming)
}

func start(cfg Config, log *slog.Logger, tm timing) (*Node, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.validate(true); err != nil {
		return nil, err
	}
	cs, err := loadConn(cfg)
	if err != nil {
		return nil, err
	}
	n := &Node{log: log, tm: tm, cfg: cfg, conn: cs, done: make(chan struct{}), changed: make(chan struct{})}
	l, err := n.dial(cfg, cs)
	if err != nil {
		return nil, err
	}
	n.link = l
	return n, nil
}

// dial makes a link connecting in the background, and starts its
// supervisor.
func (n *Node) dial(cfg Config, cs connSettings) (*link, error) {
	l := &link{kick: make(chan struct{}, 1), stop: make(chan struct{})}
	opts := append(cs.options(),
		nats.Name("simhook "+cfg.Gateway),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(n.tm.reconnectWait),
		// Nothing is buffered while disconnected: a publish fails at
		// once and its caller retries it later.
		nats.ReconnectBufSize(-1),
		nats.PingInterval(30*time.Second),
		nats.MaxPingsOutstanding(2),
		nats.ConnectHandler(func(nc *nats.Conn) {
			n.log.Info("fleet: connected", "server", nc.ConnectedUrlRedacted())
			l.setReady(false)
			l.poke()
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			n.log.Info("fleet: reconnected", "server", nc.ConnectedUrlRedacted())
			l.setReady(false)
			l.poke()
		}),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err != nil {
				n.log.Warn("fleet: disconnected", "err", err)
			} else {
				n.log.Info("fleet: disconnected")
			}
			l.setReady(false)
			n.notify()
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			n.log.Warn("fleet: asynchronous error", "subject", subj, "err", err)
		}),
	)
	nc, err := nats.Connect(strings.Join(cfg.URLs, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("fleet: connect: %w", err)
	}
	if !nc.IsConnected() {
		n.log.Warn("fleet: server not reachable yet; connecting in the background", "servers", strings.Join(cfg.URLs, ","))
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("fleet: jetstream: %w", err)
	}
	l.nc, l.js = nc, js
	l.wg.Add(1)
	go n.supervise(l)
	l.poke()
	return l, nil
}

// close stops l's supervisor and closes its connection.
func (l *link) close() {
	close(l.stop)
	l.nc.Close()
	l.wg.Wait()
}

func (l *link) poke() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

func (l *link) setReady(ready bool) {
	l.mu.Lock()
	l.ready = ready
	l.mu.Unlock()
}

// state returns l's consumers and bucket when it is connected and set up.
func (l *link) state() (own, any jetstream.Consumer, kv jetstream.KeyValue, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.ready || !l.nc.IsConnected() {
		return nil, nil, nil, false
	}
	return l.own, l.any, l.kv, true
}

// lost marks l as needing its setup again, after an answer that says the
// server lost a stream, a consumer or the bucket.
func (l *link) lost() {
	l.setReady(false)
	l.poke()
}

// supervise sets up the streams, consumers and bucket each time l connects,
// and retries a failed setup, until l stops.
func (n *Node) supervise(l *link) {
	defer l.wg.Done()
	t := time.NewTicker(n.tm.setupRetry)
	defer t.Stop()
	lastErr := ""
	for {
		select {
		case <-l.stop:
			return
		case <-l.kick:
		case <-t.C:
		}
		l.mu.Lock()
		ready := l.ready
		l.mu.Unlock()
		if ready || !l.nc.IsConnected() {
			continue
		}
		cfg := n.config()
		ctx, cancel := context.WithTimeout(context.Background(), n.tm.setupTimeout)
		go func() {
			select {
			case <-l.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		own, any, kv, err := setup(ctx, l.js, cfg, n.log)
		cancel()
		if err != nil {
			if msg := err.Error(); msg != lastErr {
				n.log.Error("fleet: cannot set up streams; retrying", "err", err)
				lastErr = msg
			}
			continue
		}
		if lastErr != "" {
			n.log.Info("fleet: streams set up")
		}
		lastErr = ""
		l.mu.Lock()
		l.own, l.any, l.kv, l.ready = own, any, kv, true
		l.mu.Unlock()
		n.notify()
	}
}

// setup creates the streams, the gateway's consumers and the bucket where
// they are missing, and leaves those that exist as they are.
func setup(ctx context.Context, js jetstream.JetStream, cfg Config, log *slog.Logger) (own, any jetstream.Consumer, kv jetstream.KeyValue, err error) {
	send := jetstream.StreamConfig{
		Name:       cfg.Send.Name,
		Subjects:   []string{SendSubject, SendSubject + ".*"},
		Retention:  jetstream.WorkQueuePolicy,
		Storage:    jetstream.FileStorage,
		Replicas:   cfg.Send.Replicas,
		MaxAge:     cfg.Send.MaxAge,
		Duplicates: cfg.Send.Duplicates,
	}
	events := jetstream.StreamConfig{
		Name:       cfg.Events.Name,
		Subjects:   []string{EventsSubject + ".>"},
		Retention:  jetstream.LimitsPolicy,
		Storage:    jetstream.FileStorage,
		Replicas:   cfg.Events.Replicas,
		MaxAge:     cfg.Events.MaxAge,
		Duplicates: cfg.Events.Duplicates,
	}
	for _, sc := range []jetstream.StreamConfig{send, events} {
		if err := ensureStream(ctx, js, sc, log); err != nil {
			return nil, nil, nil, err
		}
	}
	consumer := func(name, filter string) jetstream.ConsumerConfig {
		return jetstream.ConsumerConfig{
			Durable:       name,
			FilterSubject: filter,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       cfg.AckWait,
			DeliverPolicy: jetstream.DeliverAllPolicy,
			MaxDeliver:    -1,
		}
	}
	own, err = ensureConsumer(ctx, js, cfg.Send.Name, consumer(GatewayConsumer(cfg.Gateway), SendSubjectFor(cfg.Gateway)), log)
	if err != nil {
		return nil, nil, nil, err
	}
	any, err = ensureConsumer(ctx, js, cfg.Send.Name, consumer(AnyConsumer, SendSubject), log)
	if err != nil {
		return nil, nil, nil, err
	}
	kv, err = js.KeyValue(ctx, KVBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      KVBucket,
			Description: "simhook phones, key <gateway>.<phone id>",
			History:     1,
			TTL:         cfg.PhonesTTL,
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.PhonesReplicas,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, KVBucket)
		} else if err == nil {
			log.Info("fleet: bucket created", "bucket", KVBucket, "ttl", cfg.PhonesTTL)
		}
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("fleet: bucket %s: %w", KVBucket, err)
	}
	return own, any, kv, nil
}

func ensureStream(ctx context.Context, js jetstream.JetStream, sc jetstream.StreamConfig, log *slog.Logger) error {
	_, err := js.Stream(ctx, sc.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = js.CreateStream(ctx, sc)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			// Another gateway created it in the meantime.
			_, err = js.Stream(ctx, sc.Name)
		} else if err == nil {
			log.Info("fleet: stream created", "stream", sc.Name, "subjects", sc.Subjects)
		}
	}
	if err != nil {
		return fmt.Errorf("fleet: stream %s: %w", sc.Name, err)
	}
	return nil
}

func ensureConsumer(ctx context.Context, js jetstream.JetStream, stream string, cc jetstream.ConsumerConfig, log *slog.Logger) (jetstream.Consumer, error) {
	c, err := js.Consumer(ctx, stream, cc.Durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		c, err = js.CreateConsumer(ctx, stream, cc)
		if errors.Is(err, jetstream.ErrConsumerExists) {
			c, err = js.Consumer(ctx, stream, cc.Durable)
		} else if err == nil {
			log.Info("fleet: consumer created", "stream", stream, "consumer", cc.Durable, "filter", cc.FilterSubject)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("fleet: consumer %s of %s: %w", cc.Durable, stream, err)
	}
	return c, nil
}

// config returns the Node's current configuration.
func (n *Node) config() Config {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cfg
}

// current returns the Node's link, or nil once closed.
func (n *Node) current() *link {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	return n.link
}

// notify wakes whoever waits on the Node's state.
func (n *Node) notify() {
	n.mu.Lock()
	defer n.mu.Unlock()
	close(n.changed)
	n.changed = make(chan struct{})
}

// Changes returns a channel closed at the next change of the Node's state
// (connected and set up, or not; see Connected).
func (n *Node) Changes() <-chan struct{} { return n.changes() }

// changes returns a channel closed at the next change of state.
func (n *Node) changes() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.changed
}

// Reconfigure applies cfg (with its defaults applied). A change of the
// connection settings (URLs, credentials, token, TLS files or their
// contents) replaces the connection; other changes take effect without
// reconnecting, and an unchanged configuration does nothing. A bad
// configuration is an error and leaves the Node as it was.
func (n *Node) Reconfigure(cfg Config) error {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(true); err != nil {
		return err
	}
	cs, err := loadConn(cfg)
	if err != nil {
		return err
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	old := n.cfg
	n.cfg = cfg
	if cs.key == n.conn.key {
		l := n.link
		n.mu.Unlock()
		if old.Gateway != cfg.Gateway || old.Send != cfg.Send || old.Events != cfg.Events ||
			old.AckWait != cfg.AckWait || old.PhonesTTL != cfg.PhonesTTL || old.PhonesReplicas != cfg.PhonesReplicas {
			l.lost()
			n.notify()
		}
		return nil
	}
	n.mu.Unlock()
	n.log.Info("fleet: connection settings changed; reconnecting")
	nl, err := n.dial(cfg, cs)
	if err != nil {
		n.mu.Lock()
		n.cfg = old
		n.mu.Unlock()
		return err
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		nl.close()
		return ErrClosed
	}
	ol := n.link
	n.link, n.conn = nl, cs
	n.mu.Unlock()
	ol.close()
	n.notify()
	return nil
}

// Close closes the connection and stops the Node's goroutines; Serve
// returns ErrClosed. It is safe to call more than once.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	close(n.done)
	l := n.link
	n.mu.Unlock()
	l.close()
	return nil
}

// Connected reports whether the Node is connected and has its streams,
// consumers and bucket set up.
func (n *Node) Connected() bool {
	l := n.current()
	if l == nil {
		return false
	}
	_, _, _, ok := l.state()
	return ok
}

// Gateway returns the gateway's name.
func (n *Node) Gateway() string { return n.config().Gateway }
