package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// DefaultSocket is the running agent's API socket. It is a variable so that
// tests can check that no command contacts it unasked.
var DefaultSocket = "/run/simhook/api.sock"

// apiClient talks to the running agent's local API over its unix socket.
type apiClient struct {
	socket string
	http   *http.Client
}

// newAPIClient returns a client for the agent listening on socket.
func newAPIClient(socket string) *apiClient {
	return &apiClient{
		socket: socket,
		http: &http.Client{
			Timeout: 30 * time.Second,
			Transport: &http.Transport{
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, "unix", socket)
				},
			},
		},
	}
}

// send sends a request with an optional JSON body through hc and returns
// the answer if it is a 2xx; the caller closes its body. A failure to reach
// the agent asks whether it runs; a non-2xx answer becomes an error
// carrying the agent's message.
func (c *apiClient) send(ctx context.Context, hc *http.Client, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://simhook"+path, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("is the agent running? %w", err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e struct{ Error string }
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		return nil, fmt.Errorf("agent: %s", e.Error)
	}
	return nil, fmt.Errorf("agent: %s", resp.Status)
}

// do sends a request with an optional JSON body and decodes a JSON answer
// into out. A non-2xx answer becomes an error carrying the agent's message.
func (c *apiClient) do(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.send(ctx, c.http, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = data
		return nil
	}
	return json.Unmarshal(data, out)
}

// stream sends a GET and hands each line of the answer to fn until the
// answer ends or ctx does. It has no overall timeout: the agent ends the
// stream.
func (c *apiClient) stream(ctx context.Context, path string, fn func(line []byte) error) error {
	hc := *c.http
	hc.Timeout = 0
	resp, err := c.send(ctx, &hc, "GET", path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if err := fn(sc.Bytes()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}
