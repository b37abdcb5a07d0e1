package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/fleet"
)

// fleetCmd is `simhook fleet ls`: the phones of every gateway of the fleet,
// read from the fleet's NATS server with this gateway's configuration.
func fleetCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("fleet", "ls [--config FILE] [--json]", "List the phones of every gateway in the fleet (from the NATS server's simhook_phones bucket).")
	cfgPath := fs.String("config", DefaultConfigPath, "configuration `file` whose fleet section names the server")
	asJSON := fs.Bool("json", false, "print the entries as JSON")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	switch {
	case fs.NArg() == 0:
	case fs.NArg() == 1 && (fs.Arg(0) == "ls" || fs.Arg(0) == "list"):
	case fs.NArg() == 1:
		return usageError(fs, stderr, "unknown command %q", fs.Arg(0))
	default:
		return usageError(fs, stderr, "unexpected argument %q", fs.Arg(1))
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if !cfg.Fleet.Enabled() {
		return errors.New("fleet: the configuration has no fleet section (fleet.nats)")
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	entries, err := fleet.Phones(ctx, agent.FleetConfig(cfg))
	if err != nil {
		return err
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].Gateway != entries[j].Gateway {
			return entries[i].Gateway < entries[j].Gateway
		}
		return entries[i].Phone < entries[j].Phone
	})
	phones := make([]agent.FleetPhone, 0, len(entries))
	for _, e := range entries {
		var p agent.FleetPhone
		if err := json.Unmarshal(e.Value, &p); err != nil {
			p = agent.FleetPhone{Gateway: e.Gateway, PhoneStatus: agent.PhoneStatus{ID: e.Phone, Status: "unreadable"}}
		}
		p.Gateway, p.ID = e.Gateway, e.Phone
		phones = append(phones, p)
	}
	if *asJSON {
		out, err := json.MarshalIndent(phones, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", out)
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GATEWAY\tPHONE\tSTATUS\tSIGNAL\tREGISTRATION\tSENDS LEFT (min/hour/day)\tQUEUED\tBALANCE\tUPDATED")
	for _, p := range phones {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\t%d\t%s\t%s\n", p.Gateway, p.ID, p.Status, p.Signal, p.Registration,
			sendsLeft(p.Windows), p.Queued, balanceText(p.Balance), p.Updated)
	}
	return tw.Flush()
}

// sendsLeft renders what a phone may still send in each window ("-" for no
// limit).
func sendsLeft(ws []agent.WindowStatus) string {
	if len(ws) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(ws))
	for _, w := range ws {
		if w.Left == nil {
			parts = append(parts, "-")
		} else {
			parts = append(parts, strconv.Itoa(*w.Left))
		}
	}
	return strings.Join(parts, "/")
}

// balanceText renders a phone's last balance check.
func balanceText(b *agent.BalanceStatus) string {
	switch {
	case b == nil:
		return "-"
	case b.Value != nil:
		return strconv.FormatFloat(*b.Value, 'f', 2, 64)
	case b.Error != "":
		return "error"
	}
	return "-"
}
