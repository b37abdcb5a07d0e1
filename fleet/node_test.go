package fleet

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/simhook/simhook/fleet/fleettest"
)

func TestValidGateway(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"gw1", true},
		{"Pi-kitchen_2", true},
		{strings.Repeat("a", 64), true},
		{"", false},
		{"gw.1", false},
		{"gw*", false},
		{"gw>", false},
		{"gw 1", false},
		{"gateway\x00", false},
		{"gäteway", false},
		{strings.Repeat("a", 65), false},
	} {
		if err := ValidGateway(tc.name); (err == nil) != tc.ok {
			t.Errorf("ValidGateway(%q) = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	good := Config{URLs: []string{"nats://127.0.0.1:1"}, Gateway: "gw1"}
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no gateway", func(c *Config) { c.Gateway = "" }, "gateway"},
		{"gateway with a dot", func(c *Config) { c.Gateway = "a.b" }, "gateway"},
		{"no URL", func(c *Config) { c.URLs = nil }, "no server URL"},
		{"bad scheme", func(c *Config) { c.URLs = []string{"http://127.0.0.1:4222"} }, "scheme"},
		{"no host", func(c *Config) { c.URLs = []string{"nats://:4222"} }, "no host"},
		{"creds file missing", func(c *Config) { c.CredsFile = "testdata/missing.creds" }, "creds_file"},
		{"creds file not creds", func(c *Config) { c.CredsFile = "testdata/not.creds" }, "not a NATS credentials file"},
		{"ca file missing", func(c *Config) { c.TLS.CAFile = "testdata/missing.pem" }, "tls ca file"},
		{"ca file not PEM", func(c *Config) { c.TLS.CAFile = "testdata/not-pem.txt" }, "no PEM certificate"},
		{"cert without key", func(c *Config) { c.TLS.CertFile = "testdata/not-pem.txt" }, "go together"},
		{"duplicates beyond max age", func(c *Config) { c.Events.MaxAge, c.Events.Duplicates = time.Minute, time.Hour }, "duplicate window"},
		{"stream name with a dot", func(c *Config) { c.Send.Name = "A.B" }, "stream name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.change(&cfg)
			n, err := Start(cfg, nil)
			if err == nil {
				n.Close()
				t.Fatal("Start accepted the configuration")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Start: %v, want an error about %q", err, tc.want)
			}
		})
	}
	// The good configuration starts although nothing listens there.
	n, err := Start(good, nil)
	if err != nil {
		t.Fatalf("Start with the server down: %v", err)
	}
	if n.Connected() {
		t.Error("connected to a port nothing listens on")
	}
	n.Close()
}

// TestSetupCreatesWhatIsMissing starts a Node on an empty server: the two
// streams, the gateway's two consumers and the bucket are created as
// configured.
func TestSetupCreatesWhatIsMissing(t *testing.T) {
	t.Parallel()
	s := fleettest.Start(t)
	cfg := testConfig(s, "gw1")
	cfg.Send.MaxAge = 3 * time.Hour
	cfg.AckWait = 7 * time.Second
	cfg.PhonesTTL = 90 * time.Second
	connectedNode(t, cfg)
	js := admin(t, s.URL())

	send := streamInfo(t, js, "SIMHOOK_SEND").Config
	if send.Retention != jetstream.WorkQueuePolicy || send.MaxAge != 3*time.Hour || send.Replicas != 1 ||
		!slices.Equal(send.Subjects, []string{"simhook.send", "simhook.send.*"}) {
		t.Errorf("SIMHOOK_SEND = %+v", send)
	}
	events := streamInfo(t, js, "SIMHOOK_EVENTS").Config
	if events.Retention != jetstream.LimitsPolicy || events.MaxAge != 168*time.Hour || events.Duplicates != 2*time.Minute ||
		!slices.Equal(events.Subjects, []string{"simhook.events.>"}) {
		t.Errorf("SIMHOOK_EVENTS = %+v", events)
	}
	for name, filter := range map[string]string{"simhook-any": "simhook.send", "simhook-gw-gw1": "simhook.send.gw1"} {
		c := consumerInfo(t, js, "SIMHOOK_SEND", name).Config
		if c.Durable != name || c.FilterSubject != filter || c.AckPolicy != jetstream.AckExplicitPolicy || c.AckWait != 7*time.Second {
			t.Errorf("consumer %s = %+v", name, c)
		}
	}
	kv, err := js.KeyValue(ctxT(t), KVBucket)
	if err != nil {
		t.Fatalf("bucket: %v", err)
	}
	st, err := kv.Status(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.TTL() != 90*time.Second || st.History() != 1 {
		t.Errorf("bucket TTL %v history %d, want 1m30s and 1", st.TTL(), st.History())
	}
}

// TestSetupLeavesWhatExists starts a Node on a server where an operator
// made the streams, the shared consumer and the bucket their own way: the
// Node uses them as they are and creates only its own consumer.
func TestSetupLeavesWhatExists(t *testing.T) {
	t.Parallel()
	s := fleettest.Start(t)
	js := admin(t, s.URL())
	ctx := ctxT(t)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "SIMHOOK_SEND", Subjects: []string{"simhook.send", "simhook.send.*"},
		Retention: jetstream.WorkQueuePolicy, MaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "SIMHOOK_EVENTS", Subjects: []string{"simhook.events.>"},
		MaxAge: 2 * time.Hour, Duplicates: 10 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateConsumer(ctx, "SIMHOOK_SEND", jetstream.ConsumerConfig{Durable: "simhook-any", FilterSubject: "simhook.send",
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: 11 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: KVBucket, TTL: 5 * time.Minute}); err != nil {
		t.Fatal(err)
	}

	connectedNode(t, testConfig(s, "gw1"))

	if got := streamInfo(t, js, "SIMHOOK_SEND").Config.MaxAge; got != time.Hour {
		t.Errorf("SIMHOOK_SEND max age %v, want the operator's 1h", got)
	}
	if got := streamInfo(t, js, "SIMHOOK_EVENTS").Config; got.MaxAge != 2*time.Hour || got.Duplicates != 10*time.Minute {
		t.Errorf("SIMHOOK_EVENTS max age %v duplicates %v, want the operator's 2h and 10m", got.MaxAge, got.Duplicates)
	}
	if got := consumerInfo(t, js, "SIMHOOK_SEND", "simhook-any").Config.AckWait; got != 11*time.Second {
		t.Errorf("simhook-any ack wait %v, want the operator's 11s", got)
	}
	if got := consumerInfo(t, js, "SIMHOOK_SEND", "simhook-gw-gw1").Config.AckWait; got != DefaultAckWait {
		t.Errorf("simhook-gw-gw1 ack wait %v, want the default %v", got, DefaultAckWait)
	}
	kv, err := js.KeyValue(ctx, KVBucket)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := kv.Status(ctx); err != nil || st.TTL() != 5*time.Minute {
		t.Errorf("bucket status %v, %v, want the operator's TTL 5m", st, err)
	}
}

// TestStartWithServerDown starts a Node before its server: Start succeeds,
// and once the server is up the Node connects and creates the streams.
func TestStartWithServerDown(t *testing.T) {
	t.Parallel()
	s := fleettest.New(t)
	n := startNode(t, testConfig(s, "gw1"))
	if n.Connected() {
		t.Fatal("connected before the server started")
	}
	if err := n.Publish(ctxT(t), "receive_sms", "r1", []byte("{}"), nil); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Publish with the server down: %v, want ErrNotConnected", err)
	}
	s.Restart()
	waitFor(t, "node connected", n.Connected)
	js := admin(t, s.URL())
	streamInfo(t, js, "SIMHOOK_SEND")
	streamInfo(t, js, "SIMHOOK_EVENTS")
	consumerInfo(t, js, "SIMHOOK_SEND", "simhook-gw-gw1")
}

// TestServerLostStreams restarts the server with an empty store: the Node
// reconnects and creates everything again, without being restarted.
func TestServerLostStreams(t *testing.T) {
	t.Parallel()
	s := fleettest.Start(t)
	n := connectedNode(t, testConfig(s, "gw1"))
	s.Stop()
	if err := os.RemoveAll(s.StoreDir()); err != nil {
		t.Fatal(err)
	}
	s.Restart()
	js := admin(t, s.URL())
	// The Node sets up again on its own, before anyone calls it.
	waitFor(t, "streams, consumers and bucket back", func() bool {
		ctx := ctxT(t)
		_, err1 := js.Consumer(ctx, "SIMHOOK_SEND", "simhook-gw-gw1")
		_, err2 := js.Stream(ctx, "SIMHOOK_EVENTS")
		_, err3 := js.KeyValue(ctx, KVBucket)
		return err1 == nil && err2 == nil && err3 == nil
	})
	waitFor(t, "node connected", n.Connected)
	if err := n.Publish(ctxT(t), "receive_sms", "r1", []byte("{}"), nil); err != nil {
		t.Fatal(err)
	}
	if got := streamInfo(t, js, "SIMHOOK_EVENTS").State.Msgs; got != 1 {
		t.Errorf("SIMHOOK_EVENTS holds %d messages, want 1", got)
	}
	consumerInfo(t, js, "SIMHOOK_SEND", "simhook-any")
	if _, err := js.KeyValue(ctxT(t), KVBucket); err != nil {
		t.Errorf("bucket: %v", err)
	}
}

// TestReconfigure moves a Node to another server by changing its URL, and
// checks that an unchanged configuration keeps the connection.
func TestReconfigure(t *testing.T) {
	t.Parallel()
	s1, s2 := fleettest.Start(t), fleettest.Start(t)
	cfg := testConfig(s1, "gw1")
	n := connectedNode(t, cfg)
	l := n.current()
	if err := n.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	if n.current() != l || !l.nc.IsConnected() {
		t.Error("an unchanged configuration replaced the connection")
	}
	bad := cfg
	bad.URLs = []string{"http://x"}
	if err := n.Reconfigure(bad); err == nil {
		t.Error("Reconfigure accepted a bad URL")
	}
	if n.current() != l {
		t.Error("a bad configuration replaced the connection")
	}

	cfg.URLs = []string{s2.URL()}
	if err := n.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	if !l.nc.IsClosed() {
		t.Error("the old connection is still open")
	}
	waitFor(t, "node connected to the second server", n.Connected)
	if err := n.Publish(ctxT(t), "receive_sms", "r1", []byte("{}"), nil); err != nil {
		t.Fatal(err)
	}
	if got := streamInfo(t, admin(t, s2.URL()), "SIMHOOK_EVENTS").State.Msgs; got != 1 {
		t.Errorf("second server holds %d events, want 1", got)
	}
	if got := streamInfo(t, admin(t, s1.URL()), "SIMHOOK_EVENTS").State.Msgs; got != 0 {
		t.Errorf("first server holds %d events, want 0", got)
	}
}
