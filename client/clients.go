package client

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/zccp-go/zccp/codec"
)

// ClientInfo describes one client connected to the broker.
type ClientInfo = codec.ClientInfo

// Clients asks the broker who is connected, optionally only the clients
// carrying every label in labels.
func (c *Client) Clients(ctx context.Context, labels map[string]string) ([]ClientInfo, error) {
	if err := c.require("clients", "listing clients"); err != nil {
		return nil, err
	}
	call := Call{Method: codec.MethodClients}
	if sel := selector(labels); sel != "" {
		call.Headers = map[string]string{codec.HdrSelect: sel}
	}
	r, err := c.Do(ctx, codec.NoticeSender, call)
	if err != nil {
		return nil, err
	}
	out := make([]ClientInfo, 0, len(r.Content))
	for _, line := range r.Content {
		if len(line) == 0 {
			continue // the broker's "nobody" (every broker DELIVER has a content frame)
		}
		var ci ClientInfo
		if err := json.Unmarshal(line, &ci); err != nil {
			return nil, fmt.Errorf("zccp: broker sent a bad client record: %w", err)
		}
		out = append(out, ci)
	}
	return out, nil
}
