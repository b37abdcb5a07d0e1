package fleet

import (
	"testing"

	"github.com/simhook/simhook/fleet/fleettest"
)

// TestClaimFirstGatewayHolds: the first gateway to claim a request id holds
// it; the others, and the holder asking again, are told who holds it; ids
// of any characters are independent.
func TestClaimFirstGatewayHolds(t *testing.T) {
	t.Parallel()
	srv := fleettest.Start(t)
	gw1 := connectedNode(t, testConfig(srv, "gw1"))
	gw2 := connectedNode(t, testConfig(srv, "gw2"))
	ctx := ctxT(t)
	tests := []struct {
		node *Node
		id   string
		want string
	}{
		{gw2, "order 1234 / é", "gw2"},
		{gw1, "order 1234 / é", "gw2"},
		{gw2, "order 1234 / é", "gw2"},
		{gw1, "order 1235", "gw1"},
		{gw2, "order 1235", "gw1"},
	}
	for _, tt := range tests {
		got, err := tt.node.Claim(ctx, tt.id)
		if err != nil || got != tt.want {
			t.Errorf("%s claims %q: holder %q, %v; want %q", tt.node.Gateway(), tt.id, got, err, tt.want)
		}
	}
	if _, err := gw1.Claim(ctx, ""); err == nil {
		t.Error("an empty id was claimed")
	}
	srv.Stop()
	if _, err := gw1.Claim(ctx, "order 1236"); err == nil {
		t.Error("a claim with the server down did not fail")
	}
}
