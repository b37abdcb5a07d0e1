package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/config"
	"github.com/simhook/simhook/outbox"
)

// salvageBatch is how many events one import request carries.
const salvageBatch = 500

// salvage reads a damaged outbox file page by page and re-queues the events
// it had not delivered everywhere: through the running agent's API, or, if
// no agent answers, straight into the configured outbox of a stopped one.
func salvage(ctx context.Context, c *apiClient, path, cfgPath string, dryRun bool, stdout io.Writer) error {
	scan, err := outbox.ScanFile(path)
	if err != nil {
		fmt.Fprintf(stdout, "warning: %v (reporting what was read before)\n", err)
	}
	todo, delivered, orphans := scan.Undelivered()
	fmt.Fprintf(stdout, "%s: %d pages, %d leaf pages read; %d events found: %d owed to an endpoint, %d delivered everywhere, %d without a delivery record; %d records unreadable\n",
		path, scan.Pages, scan.LeafPages, len(scan.Events), len(todo), delivered, orphans, scan.Unreadable)
	if dryRun || len(todo) == 0 {
		return nil
	}
	var total agent.ImportResult
	if err := c.do(ctx, "GET", "/healthz", nil, nil); err == nil {
		for i := 0; i < len(todo); i += salvageBatch {
			var res agent.ImportResult
			if err := c.do(ctx, "POST", "/v1/outbox/import", todo[i:min(i+salvageBatch, len(todo))], &res); err != nil {
				return fmt.Errorf("re-queueing through the agent (%d queued so far): %w", total.Queued, err)
			}
			total.Queued += res.Queued
			total.Present += res.Present
			total.Failed += res.Failed
			if total.Error == "" {
				total.Error = res.Error
			}
		}
	} else {
		cfg, err := config.Load(cfgPath)
		if err != nil {
			return fmt.Errorf("no agent answers and the configuration cannot be read: %w", err)
		}
		dst := filepath.Join(cfg.StateDir, agent.OutboxFile)
		if filepath.Clean(dst) == filepath.Clean(path) {
			return fmt.Errorf("%s is the live outbox; salvage reads a file moved aside", path)
		}
		o, err := outbox.Open(dst, outbox.Options{})
		if err != nil {
			return fmt.Errorf("no agent answers; opening %s: %w", dst, err)
		}
		defer o.Close()
		for _, s := range todo {
			ok, err := o.Import(ctx, s)
			switch {
			case err != nil:
				total.Failed++
				if total.Error == "" {
					total.Error = err.Error()
				}
			case ok:
				total.Queued++
			default:
				total.Present++
			}
		}
	}
	fmt.Fprintf(stdout, "re-queued %d, already in the outbox %d, failed %d\n", total.Queued, total.Present, total.Failed)
	if total.Failed > 0 {
		return fmt.Errorf("%d events could not be re-queued: %s", total.Failed, total.Error)
	}
	return nil
}
