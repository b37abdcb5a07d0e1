// Command fleet-example publishes one send request to a simhook fleet and
// prints the events that come back, verifying each one's signature:
//
//	go run ./examples/fleet/go -nats nats://127.0.0.1:4222 -secret S -to +33612345678 -text "Hello"
//
// The request goes to simhook.send, where any gateway with a free phone
// takes it (publish to simhook.send.<gateway> to pick one). Its id is the
// client's: a gateway that took it and died before acknowledging hands it
// on, and the id keeps it from being sent twice. The id is also put in the
// tag, to find the request's send_sms among the other events.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/simhook/simhook/webhook"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "fleet-example:", err)
		os.Exit(1)
	}
}

func run() error {
	url := flag.String("nats", nats.DefaultURL, "the fleet's NATS server")
	secret := flag.String("secret", "", "the gateways' fleet.secret, to verify the events")
	to := flag.String("to", "", "recipient, e.g. +33612345678")
	text := flag.String("text", "Hello from the fleet", "message text")
	wait := flag.Duration("wait", 2*time.Minute, "how long to wait for the send_sms event")
	flag.Parse()
	if *to == "" || *secret == "" {
		return errors.New("give -to and -secret")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *wait)
	defer cancel()

	nc, err := nats.Connect(*url)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}

	// Every gateway publishes every event to simhook.events.<gateway>.<type>,
	// with Nats-Msg-Id = webhook_random_id and both signatures in headers.
	// The consumer starts before the request goes, so no event is missed.
	cons, err := js.OrderedConsumer(ctx, "SIMHOOK_EVENTS", jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"simhook.events.>"},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return err
	}
	raw := make([]byte, 8)
	_, _ = rand.Read(raw)
	id := "example-" + hex.EncodeToString(raw)
	req, _ := json.Marshal(map[string]any{"id": id, "to": *to, "text": *text, "tag": id})
	ack, err := js.Publish(ctx, "simhook.send", req)
	if err != nil {
		return fmt.Errorf("publishing the request: %w", err)
	}
	fmt.Printf("request %s queued in %s (seq %d)\n", id, ack.Stream, ack.Sequence)

	for {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if ctx.Err() != nil {
			return fmt.Errorf("no send_sms for %s yet: %w", id, ctx.Err())
		}
		if err != nil {
			continue
		}
		h := http.Header{}
		for k, v := range msg.Headers() {
			h[http.CanonicalHeaderKey(k)] = v
		}
		if err := webhook.VerifyStandard([]string{*secret}, h, msg.Data(), time.Now(), 10*time.Minute); err != nil {
			fmt.Printf("%s: signature does not verify: %v\n", msg.Subject(), err)
			continue
		}
		var ev struct {
			Type string          `json:"webhook_type"`
			Body json.RawMessage `json:"body"`
		}
		if err := json.Unmarshal(msg.Data(), &ev); err != nil {
			continue
		}
		gateway := strings.Split(msg.Subject(), ".")[2]
		fmt.Printf("%s %s: %s\n", gateway, ev.Type, ev.Body)
		var sent webhook.SendSMSBody
		if ev.Type == string(webhook.SendSMS) && json.Unmarshal(ev.Body, &sent) == nil && sent.Tag == id {
			fmt.Printf("sent by phone %d of %s, status %s\n", sent.Origin, gateway, sent.Status)
			return nil
		}
	}
}
