package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/zccp-go/zccp/codec"
)

// ClientInfo describes one client connected to the broker.
type ClientInfo = codec.ClientInfo

// Clients asks the broker who is connected, optionally only the clients
// carrying every label in labels.
func (c *Client) Clients(ctx context.Context, labels map[string]string) ([]ClientInfo, error) {
	list, _, err := c.ClientsTruncated(ctx, labels)
	return list, err
}

// ClientsTruncated is Clients that also says how many matching clients
// the broker left out of its answer to keep it under its message size
// (zccp-truncated; 0 when the list is complete).
func (c *Client) ClientsTruncated(ctx context.Context, labels map[string]string) (list []ClientInfo, left int, err error) {
	if err := c.require("clients", "listing clients"); err != nil {
		return nil, 0, err
	}
	call := Call{Method: codec.MethodClients}
	if sel := selector(labels); sel != "" {
		call.Headers = map[string]string{codec.HdrSelect: sel}
	}
	r, err := c.Do(ctx, codec.NoticeSender, call)
	if err != nil {
		return nil, 0, err
	}
	if v, ok := r.Headers[codec.HdrTruncated]; ok {
		if left, err = strconv.Atoi(v); err != nil || left < 0 {
			return nil, 0, fmt.Errorf("zccp: broker sent a bad %s header %q", codec.HdrTruncated, v)
		}
	}
	out := make([]ClientInfo, 0, len(r.Content))
	for _, line := range r.Content {
		if len(line) == 0 {
			continue // the broker's "nobody" (every broker DELIVER has a content frame)
		}
		var ci ClientInfo
		if err := json.Unmarshal(line, &ci); err != nil {
			return nil, 0, fmt.Errorf("zccp: broker sent a bad client record: %w", err)
		}
		out = append(out, ci)
	}
	return out, left, nil
}
