package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/outbox"
)

// outboxCmd is `simhook outbox ...`. Every sub-command but compact talks
// to the running agent (bbolt locks the file while it runs); compact works
// on the file of a stopped agent.
func outboxCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("outbox", "<command> [--socket PATH]", `Commands:
  stats                              queue state per endpoint
  ls [--state S] [--endpoint E] [--type T] [--limit N]
  show SEQ                           one event, its body and deliveries
  retry SEQ | --dead | --endpoint E  send dead deliveries again
  enable ENDPOINT                    resume an endpoint disabled by 410 Gone
  purge [--dead] [--older-than D]    delete dead deliveries / old finished events
  malformed [--limit N]              stored PDUs that could not be decoded (kept, newest first)
  compact [--config FILE]            compact the outbox file (agent stopped)
  check FILE                         check a file's consistency (exit 3: damaged)
  salvage [--dry-run] FILE           re-queue what a damaged file had not delivered`)
	socket := fs.String("socket", DefaultSocket, "the agent's API socket `path`")
	state := fs.String("state", "", "filter by `state`: pending, delivered, dead, disabled-endpoint")
	endpoint := fs.String("endpoint", "", "endpoint `name`")
	typ := fs.String("type", "", "event `type`")
	limit := fs.Int("limit", 50, "at most `n` rows")
	dead := fs.Bool("dead", false, "all dead deliveries")
	older := fs.Duration("older-than", 0, "finished events older than `duration`")
	cfgPath := fs.String("config", DefaultConfigPath, "configuration `file` (compact, salvage without a running agent)")
	dryRun := fs.Bool("dry-run", false, "salvage: report what would be re-queued")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	cmd, args, err := checkArgs(fs, stderr, outboxArgs, "")
	if err != nil {
		return err
	}
	c := newAPIClient(*socket)
	switch cmd {
	case "stats":
		var st outbox.Stats
		if err := c.do(ctx, "GET", "/v1/outbox/stats", nil, &st); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "network online: %v   events held: %d   waiting for clock sync: %v\n", st.Online, st.Events, st.TimeSyncHold)
		fmt.Fprintf(tw, "system clock: %s\n", st.Clock)
		for _, d := range st.Damaged {
			fmt.Fprintf(tw, "damaged outbox moved aside %s: %s (simhook outbox salvage %s)\n", d.At.Format(time.RFC3339), d.Path, d.Path)
		}
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "endpoint\tpending\toldest\tdead\tfailing\tstate")
		for _, e := range st.Endpoints {
			state := "ok"
			switch {
			case !e.Configured:
				state = "removed (deliveries parked)"
			case e.Disabled:
				state = "disabled by 410 (simhook outbox enable " + e.Name + ")"
			case e.Unreachable:
				state = "unreachable (probing)"
			case e.Failing > 0:
				state = "failing"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%s\n", e.Name, e.Pending, e.OldestPending.Round(time.Second), e.Dead, e.Failing, state)
		}
		return tw.Flush()
	case "ls":
		q := url.Values{"state": {*state}, "endpoint": {*endpoint}, "type": {*typ}, "limit": {strconv.Itoa(*limit)}}
		var list []outbox.DeliveryInfo
		if err := c.do(ctx, "GET", "/v1/outbox/deliveries?"+q.Encode(), nil, &list); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "seq\ttype\tid\tendpoint\tstate\tattempts\tlast answer\tnext try")
		for _, d := range list {
			last := d.LastError
			if d.LastStatus != 0 {
				last = fmt.Sprintf("%d %s", d.LastStatus, d.LastError)
			}
			next := ""
			if !d.NextDue.IsZero() {
				next = d.NextDue.Local().Format(time.DateTime)
			}
			fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%d\t%s\t%s\n", d.Seq, d.Type, d.ID, d.Endpoint, d.State, d.Attempts, last, next)
		}
		return tw.Flush()
	case "show":
		seq, err := strconv.ParseUint(args[0], 10, 64)
		if err != nil {
			return usageError(fs, stderr, "show: %q is not an event number", args[0])
		}
		var raw json.RawMessage
		if err := c.do(ctx, "GET", "/v1/outbox/events/"+strconv.FormatUint(seq, 10), nil, &raw); err != nil {
			return err
		}
		_, err = stdout.Write(raw)
		return err
	case "retry":
		req := agent.RetryRequest{AllDead: *dead, Endpoint: *endpoint}
		if len(args) == 1 {
			seq, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return usageError(fs, stderr, "retry: %q is not an event number", args[0])
			}
			req.Seq = seq
		}
		if req.Seq == 0 && !req.AllDead && req.Endpoint == "" {
			return usageError(fs, stderr, "retry: give SEQ, --dead or --endpoint E")
		}
		var res map[string]int
		if err := c.do(ctx, "POST", "/v1/outbox/retry", req, &res); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d deliveries queued again\n", res["retried"])
		return nil
	case "enable":
		return c.do(ctx, "POST", "/v1/outbox/endpoints/"+url.PathEscape(args[0])+"/enable", struct{}{}, nil)
	case "purge":
		req := agent.PurgeRequest{Dead: *dead}
		if *older > 0 {
			req.OlderThan = older.String()
		}
		var res map[string]int
		if err := c.do(ctx, "POST", "/v1/outbox/purge", req, &res); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d removed\n", res["purged"])
		return nil
	case "malformed":
		var list []agent.MalformedPDU
		if err := c.do(ctx, "GET", "/v1/malformed?limit="+strconv.Itoa(*limit), nil, &list); err != nil {
			return err
		}
		if len(list) == 0 {
			fmt.Fprintln(stdout, "no malformed PDUs kept")
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "seq\tread at\tphone\tslot\terror\tPDU (hex)")
		for _, m := range list {
			fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%s\t%s\n", m.Seq, m.At, m.Phone, m.Index, m.Error, m.PDU)
		}
		return tw.Flush()
	case "check":
		if err := outbox.CheckFileFull(args[0]); err != nil {
			fmt.Fprintln(stderr, err)
			if errors.Is(err, outbox.ErrDamaged) {
				return exitCode(outbox.ChildCheckExit)
			}
			return exitCode(1)
		}
		fmt.Fprintf(stdout, "%s: consistent\n", args[0])
		return nil
	case "salvage":
		return salvage(ctx, c, args[0], *cfgPath, *dryRun, stdout)
	case "compact":
		cfg, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		src := filepath.Join(cfg.StateDir, agent.OutboxFile)
		tmp := src + ".compact"
		before, err := os.Stat(src)
		if err != nil {
			return err
		}
		if err := outbox.Compact(src, tmp); err != nil {
			return err
		}
		after, err := os.Stat(tmp)
		if err != nil {
			return err
		}
		if err := os.Rename(tmp, src); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "compacted %s: %d → %d bytes\n", src, before.Size(), after.Size())
		return nil
	}
	panic("outbox: command " + cmd + " is in outboxArgs but not handled")
}

// outboxArgs is how many positional arguments each outbox command takes.
var outboxArgs = map[string]argSpec{
	"stats": {}, "ls": {}, "purge": {}, "malformed": {}, "compact": {},
	"show":    {1, 1, "SEQ"},
	"retry":   {0, 1, "SEQ"},
	"enable":  {1, 1, "ENDPOINT"},
	"check":   {1, 1, "FILE"},
	"salvage": {1, 1, "FILE"},
}
