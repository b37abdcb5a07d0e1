package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/simhook/simhook/agent"
	"github.com/simhook/simhook/fleet/fleettest"
	"github.com/simhook/simhook/lab"
)

// TestFleetLs lists a gateway's phones from a real nats-server, as a table
// and as JSON, with the gateway's own configuration file.
func TestFleetLs(t *testing.T) {
	srv := fleettest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := lab.Start(ctx, lab.Options{Dir: t.TempDir(), Phones: 2, ExtraYAML: fmt.Sprintf(
		"fleet:\n  nats: %s\n  gateway: cli-gw\n  secret: s\n", srv.URL())})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var out string
	for {
		var code int
		out, _, code = runCmd(t, "fleet", "ls", "--config", l.ConfigPath, "--json")
		var phones []agent.FleetPhone
		if code == 0 && json.Unmarshal([]byte(out), &phones) == nil && len(phones) == 2 && phones[0].Status == "up" && phones[1].Status == "up" {
			if phones[0].Gateway != "cli-gw" || phones[0].ID != 1 || phones[1].ID != 2 {
				t.Errorf("fleet ls --json: %+v", phones)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("fleet ls never listed the two phones up: exit %d\n%s", code, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, errOut, code := runCmd(t, "fleet", "ls", "--config", l.ConfigPath)
	if code != 0 || !strings.Contains(out, "GATEWAY") || strings.Count(out, "cli-gw") != 2 {
		t.Errorf("fleet ls: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := runCmd(t, "fleet", "ls", "--config", "../../config/testdata/valid/minimal.yaml"); code == 0 || !strings.Contains(errOut, "no fleet section") {
		t.Errorf("fleet ls without a fleet section: exit %d %s", code, errOut)
	}
}
