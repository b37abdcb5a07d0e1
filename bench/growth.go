package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	fakeclock "github.com/simhook/simhook/internal/clock"
	"github.com/simhook/simhook/outbox"
	"github.com/simhook/simhook/receiver"
	"github.com/simhook/simhook/store"
	"github.com/simhook/simhook/webhook"
)

// GrowthOptions sets the steady load of a growth measurement.
type GrowthOptions struct {
	// Days is how many simulated days the load runs for.
	Days int `json:"days"`
	// SMSPerDay received SMS are committed as receive_sms events and
	// delivered each simulated day, spread evenly over its hours.
	SMSPerDay int `json:"sms_per_day"`
	// SendsPerDay send requests go through the store's life cycle each
	// simulated day, each with its send_sms event.
	SendsPerDay int `json:"sends_per_day"`
	// Retention is delivery.retention: how long delivered events and
	// finished sends are kept.
	Retention time.Duration `json:"retention_ns"`
	// Sync commits with fsync, as the daemon does. Without it the run is
	// faster and the records kept the same; the pages differ a little,
	// since writes group into transactions differently.
	Sync bool `json:"sync"`
	// Dir is where the file is made; empty means a temporary directory,
	// removed at the end.
	Dir string `json:"-"`
	// HourTimeout bounds the real time one simulated hour may take to be
	// delivered and pruned (default a minute).
	HourTimeout time.Duration `json:"-"`
	// Progress, if set, gets a line per simulated day.
	Progress io.Writer `json:"-"`
}

// GrowthDefaults is the load BENCHMARKS.md reports: 1,000 received SMS and
// 300 sends a day for 30 days, with the default retention of 168h.
func GrowthDefaults() GrowthOptions {
	return GrowthOptions{Days: 30, SMSPerDay: 1000, SendsPerDay: 300, Retention: 168 * time.Hour}
}

// GrowthDay is the state of the file at the end of one simulated day.
type GrowthDay struct {
	Day int `json:"day"`
	// Events is how many events the outbox holds; Sends how many send
	// requests the store holds.
	Events int `json:"events"`
	Sends  int `json:"sends"`
	// FileSize is the file's size on disk (os.Stat).
	FileSize int64 `json:"file_size"`
	// Pages is bbolt's high-water mark (pages up to the last one in use),
	// and FreePages how many of them are free or pending release (-1:
	// unknown), as the newest meta page and its freelist say.
	Pages     int `json:"pages"`
	FreePages int `json:"free_pages"`
	PageSize  int `json:"page_size"`
}

// Growth is the curve of one growth measurement.
type Growth struct {
	Options GrowthOptions `json:"options"`
	Days    []GrowthDay   `json:"days"`
	// Delivered counts the webhooks the receiver verified and accepted.
	Delivered int64 `json:"delivered"`
	// Elapsed is the real time the run took.
	Elapsed time.Duration `json:"elapsed_ns"`
}

// growthPhone is the phone every simulated SMS and send goes through.
const growthPhone = 1

// MeasureGrowth runs o's steady load on an injected clock, hour by
// simulated hour, against the real outbox and store sharing one bbolt file,
// and a verifying receiver on 127.0.0.1. Each hour it advances the clock,
// lets the dispatcher prune what fell due, prunes the store when its next
// record is due (as the agent's retention loop does), commits the hour's
// received SMS and sends, and waits until every event is delivered and
// the outbox holds no more than retention allows. At the end of each day it
// records the file's size and page counts.
func MeasureGrowth(ctx context.Context, o GrowthOptions) (*Growth, error) {
	if o.Days <= 0 || o.SMSPerDay < 0 || o.SendsPerDay < 0 || o.Retention <= 0 {
		return nil, fmt.Errorf("growth: needs days and retention above zero, and counts not below (%+v)", o)
	}
	if o.HourTimeout <= 0 {
		o.HourTimeout = time.Minute
	}
	g := &Growth{Options: o}
	begin := time.Now()
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "simhook-bench-growth-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	path := filepath.Join(dir, "outbox.db")

	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	clk := fakeclock.NewFake(start)
	const secret = "bench-growth-secret-0123456789"
	discard := slog.New(slog.DiscardHandler)
	rcv := receiver.New(receiver.Options{Secrets: []string{secret}, Logger: discard, Now: clk.Now, RememberIDs: 4096, KeepVerdicts: 16})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: rcv, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	defer func() {
		_ = srv.Close()
		<-served
	}()

	out, err := outbox.Open(path, outbox.Options{
		Clock: clk, Logger: discard, Retention: o.Retention, NoSync: !o.Sync,
		TimeSynced: func() bool { return true },
		BootClock:  func() (string, time.Duration, error) { return "bench-growth", clk.Now().Sub(start) + time.Minute, nil },
	})
	if err != nil {
		return nil, err
	}
	defer out.Close()
	err = out.SetEndpoints([]outbox.Endpoint{{Endpoint: webhook.Endpoint{
		Name: "bench", URL: "http://" + ln.Addr().String() + "/hook", Secrets: []string{secret},
	}}})
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, out)
	if err != nil {
		return nil, err
	}

	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		_ = out.Run(runCtx) // it returns nil once runCtx ends
	}()
	defer func() {
		stop()
		<-ran
	}()

	sim := &growthSim{o: o, clk: clk, out: out, st: st, ran: ran, perHour: make([]int, 0, o.Days*24)}
	for day := 1; day <= o.Days; day++ {
		for h := range 24 {
			if err := sim.hour(ctx, (day-1)*24+h); err != nil {
				return g, fmt.Errorf("growth: day %d, hour %d: %w", day, h, err)
			}
		}
		d, err := sim.measure(path, day)
		if err != nil {
			return g, fmt.Errorf("growth: day %d: %w", day, err)
		}
		g.Days = append(g.Days, d)
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "growth: day %d/%d: %d events, %d sends, %.2f MiB\n", day, o.Days, d.Events, d.Sends, mb(d.FileSize))
		}
	}
	rs := rcv.Stats()
	g.Delivered = rs.Accepted
	g.Elapsed = time.Since(begin)
	if rs.Rejected > 0 {
		return g, fmt.Errorf("growth: the receiver rejected %d requests", rs.Rejected)
	}
	return g, nil
}

// growthSim is the state of a growth run between simulated hours.
type growthSim struct {
	o       GrowthOptions
	clk     *fakeclock.Fake
	out     *outbox.Outbox
	st      *store.Store
	ran     <-chan struct{} // closed when the dispatcher stops
	perHour []int           // events committed in each simulated hour so far
	next    time.Time       // when the store's next record is due to go (zero: now)
	sms     int             // received SMS so far
	sends   int             // sends so far
}

// spread is how many of perDay fall in hour h of the day: perDay spread
// evenly over 24 hours, to the unit.
func spread(perDay, h int) int { return (h+1)*perDay/24 - h*perDay/24 }

// hour runs simulated hour n (0 is the first of the first day).
func (s *growthSim) hour(ctx context.Context, n int) error {
	if n > 0 {
		s.clk.Advance(time.Hour)
	}
	now := s.clk.Now()
	if s.next.IsZero() || !now.Before(s.next) {
		_, next, err := s.st.Prune(ctx, now, store.Retention{
			Sends: s.o.Retention, MalformedAge: store.DefaultMalformedAge,
			MalformedCount: store.DefaultMalformedCount, Reports: store.DefaultReportAge,
		})
		if err != nil {
			return err
		}
		s.next = next
	}
	events := 0
	for range spread(s.o.SMSPerDay, n%24) {
		if err := s.receive(ctx, now); err != nil {
			return err
		}
		events++
	}
	for range spread(s.o.SendsPerDay, n%24) {
		if err := s.send(ctx, now); err != nil {
			return err
		}
		events++
	}
	s.perHour = append(s.perHour, events)
	return s.settle(ctx, n)
}

// receive commits a received SMS as the agent does: its receive_sms event
// with the SIM slot remembered, then the slot forgotten once the message is
// deleted from the SIM.
func (s *growthSim) receive(ctx context.Context, now time.Time) error {
	i := s.sms
	s.sms++
	slot := []int{i % 30}
	content := fmt.Sprintf("%064x", uint64(i)*0x9e3779b97f4a7c15)
	key := fmt.Sprintf("sms/%d/SM/%s/%016x", growthPhone, content, uint64(i))
	text := growthText("Received message", i)
	_, err := s.out.Enqueue(ctx, outbox.Event{
		Type: webhook.ReceiveSMS, Phone: growthPhone, DedupeKey: key, Time: now,
		Also: s.st.RememberSlotsHook(growthPhone, "SM", slot, key),
		Body: func(id uint64) ([]byte, error) {
			return json.Marshal(webhook.ReceiveSMSBody{
				ID: int64(id), At: webhook.FormatDate(now, time.UTC), Text: text, Destination: growthPhone,
				Origin: fmt.Sprintf("+336%08d", i%100_000_000), Medias: []string{},
			})
		},
	})
	if err != nil {
		return fmt.Errorf("receive: %w", err)
	}
	if err := s.st.ForgetSlots(ctx, growthPhone, "SM", slot, content); err != nil {
		return fmt.Errorf("receive: %w", err)
	}
	return nil
}

// send takes one request through the store's life cycle as the agent does:
// queued, begun on the phone, its message reference recorded as the modem
// answers, then finished as sent together with its send_sms event.
func (s *growthSim) send(ctx context.Context, now time.Time) error {
	i := s.sends
	s.sends++
	r, err := s.st.AddSend(ctx, store.Send{
		To: fmt.Sprintf("+337%08d", i%100_000_000), Text: growthText("Sent message", i),
		Tag: "bench", StatusReport: true, Created: now,
	})
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	if r, err = s.st.Begin(ctx, r.ID, growthPhone, 0, now); err != nil {
		return fmt.Errorf("send %d: begin: %w", r.ID, err)
	}
	r.Handed = 1
	if err := s.st.SaveSend(ctx, r); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	r.Refs = []int{i % 256}
	if err := s.st.SaveSend(ctx, r); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	r.State, r.Status, r.SentAt, r.Parts = store.Sent, "unknown", now, make([]string, 1)
	_, err = s.out.Enqueue(ctx, outbox.Event{
		Type: webhook.SendSMS, Phone: growthPhone, DedupeKey: fmt.Sprintf("send/%d", r.ID), Time: now,
		LocalTimes: []string{"at"},
		Body: func(uint64) ([]byte, error) {
			return json.Marshal(webhook.SendSMSBody{
				ID: int64(r.ID), At: webhook.FormatDate(now, time.UTC), Status: r.Status, Text: r.Text,
				Destination: r.To, Origin: growthPhone, Medias: []string{}, Tag: r.Tag,
			})
		},
		Also: s.st.SaveSendHook(r),
	})
	if err != nil {
		return fmt.Errorf("send %d: commit: %w", r.ID, err)
	}
	return nil
}

// growthText is a message text of typical length (100 to 159 characters).
func growthText(what string, i int) string {
	t := fmt.Sprintf("%s %d. ", what, i) + strings.Repeat("The quick brown fox jumps over the lazy dog. ", 4)
	return t[:100+i%60]
}

// kept is how many of the events committed so far the outbox keeps at the
// current hour n: those delivered at or after now minus retention (each
// hour's events are delivered at its start, the clock standing still).
func (s *growthSim) kept(n int) int {
	keep := int(s.o.Retention / time.Hour)
	total := 0
	for h := max(n-keep, 0); h <= n; h++ {
		total += s.perHour[h]
	}
	return total
}

// settle waits until every event is delivered and the dispatcher has
// pruned what retention lets go of at this hour.
func (s *growthSim) settle(ctx context.Context, n int) error {
	want := s.kept(n)
	deadline := time.Now().Add(s.o.HourTimeout)
	for {
		stats, err := s.out.Stats()
		if err != nil {
			return err
		}
		pending := 0
		for _, e := range stats.Endpoints {
			pending += e.Pending + e.Dead
		}
		if pending == 0 && stats.Events <= want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %d deliveries pending or dead, %d events kept where retention keeps %d", s.o.HourTimeout, pending, stats.Events, want)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.ran:
			return errors.New("the dispatcher stopped")
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// measure reads the file's size, page counts and what it keeps.
func (s *growthSim) measure(path string, day int) (GrowthDay, error) {
	d := GrowthDay{Day: day}
	fi, err := os.Stat(path)
	if err != nil {
		return d, err
	}
	d.FileSize = fi.Size()
	stats, err := s.out.Stats()
	if err != nil {
		return d, err
	}
	d.Events = stats.Events
	err = s.st.EachSend(func(store.Send) error {
		d.Sends++
		return nil
	})
	if err != nil {
		return d, err
	}
	m, err := readFileMeta(path)
	if err != nil {
		return d, err
	}
	d.PageSize, d.Pages, d.FreePages = m.PageSize, int(m.Pages), m.FreePages
	return d, nil
}

// Plateau compares the largest size over the last third of the days with
// the size on the day before that third began: the growth is that ratio
// minus one, and the size plateaued if it is at most limit. Both sizes
// count, the larger growth of the two: the file's size on disk, and the
// pages up to bbolt's high-water mark. The file grows in steps (doubling
// up to 16 MiB), so its size alone may stand still while the pages in use
// grow towards the next step.
func (g *Growth) Plateau(limit float64) (growth float64, ok bool) {
	n := len(g.Days)
	if n < 3 {
		return 0, false
	}
	first := n - n/3
	rise := func(size func(GrowthDay) int64) float64 {
		base := size(g.Days[first-1])
		top := base
		for _, d := range g.Days[first:] {
			top = max(top, size(d))
		}
		if base <= 0 {
			return 0
		}
		return float64(top-base) / float64(base)
	}
	growth = max(rise(func(d GrowthDay) int64 { return d.FileSize }), rise(func(d GrowthDay) int64 { return int64(d.Pages) }))
	return growth, growth <= limit
}

// PlateauLimit is the growth over the last third of the days that still
// counts as a plateau.
const PlateauLimit = 0.05

// WriteTable prints the curve, one row per day, and whether it plateaued.
func (g *Growth) WriteTable(w io.Writer) {
	o := g.Options
	fmt.Fprintf(w, "file size under steady load: %d received SMS + %d sends per simulated day, retention %s, %d days (%s, %d webhooks delivered)\n",
		o.SMSPerDay, o.SendsPerDay, o.Retention, o.Days, g.Elapsed.Round(time.Second), g.Delivered)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "day\tevents kept\tsends kept\tfile MiB\tpages\tfree pages\t")
	for _, d := range g.Days {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%.2f\t%d\t%d\t\n", d.Day, d.Events, d.Sends, mb(d.FileSize), d.Pages, d.FreePages)
	}
	tw.Flush()
	if growth, ok := g.Plateau(PlateauLimit); len(g.Days) >= 3 {
		n := len(g.Days)
		verdict := "plateaued"
		if !ok {
			verdict = "did NOT plateau"
		}
		fmt.Fprintf(w, "%s: the largest file or page count over days %d-%d is %+.1f%% against day %d (limit %+.0f%%)\n",
			verdict, g.Days[n-n/3].Day, g.Days[n-1].Day, 100*growth, g.Days[n-n/3-1].Day, 100*PlateauLimit)
	}
	fmt.Fprintln(w)
}
