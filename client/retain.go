package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/zccp-go/zccp/codec"
)

// PublishRetained publishes like Publish and asks the broker to keep the
// message as the address's last value (zccp-retain: 1), which every
// later SubscribeLast or Last gets. No content clears the last value.
func (c *Client) PublishRetained(address string, headers map[string]string, content ...[]byte) error {
	h := make(map[string]string, len(headers)+1)
	for k, v := range headers {
		h[k] = v
	}
	h[codec.HdrRetain] = "1"
	return c.Publish(address, h, content...)
}

// SubscribeLast is Subscribe that first receives the last value of every
// matching address (Delivery.Retained reports them, Delivery.Age says how
// old), then live traffic, with nothing lost or repeated in between. It
// asks the broker even when this client already holds the expression.
// Last values go only to SubscribeLast subscriptions (a plain Subscribe
// sees live traffic only), so a handler may see a last value again: when
// another SubscribeLast of this client asks for matching ones, and after
// every reconnection, when the client re-subscribes asking for the last
// values again. After a reconnection the handler thus gets each matching
// address's current last value (repeated if unchanged, the newest if it
// changed while the client was away: values published and replaced in
// between are not seen, nor are unretained publishes of that time), then
// live traffic. Use Retained and Age to tell them apart.
func (c *Client) SubscribeLast(ctx context.Context, expr string, h Handler) (*Subscription, error) {
	if h == nil {
		return nil, fmt.Errorf("zccp: SubscribeLast: nil handler")
	}
	if !c.supports("retain") {
		return nil, fmt.Errorf("zccp: the broker does not keep last values")
	}
	s := newSubscription(c, expr, h, nil)
	s.last = true
	return c.subscribe(ctx, s)
}

func (s *Subscription) subscribeHeaders() map[string]string {
	if !s.last {
		return nil
	}
	return map[string]string{codec.HdrLast: "1"}
}

// Retained reports whether d is a stored last value (see SubscribeLast),
// and its age when it was sent.
func (d *Delivery) Retained() (age time.Duration, ok bool) {
	if d.Headers[codec.HdrRetained] != "1" {
		return 0, false
	}
	var ms int64
	fmt.Sscan(d.Headers[codec.HdrAge], &ms)
	return time.Duration(ms) * time.Millisecond, true
}

// LastValue is one address's last value as Last returns it.
type LastValue struct {
	Address string
	Sender  string
	Headers map[string]string
	Content [][]byte
	Age     time.Duration // when the broker answered
}

// Last asks the broker for the last values of the addresses matching
// expr (a zrex expression; empty: all), oldest first.
func (c *Client) Last(ctx context.Context, expr string) ([]LastValue, error) {
	if !c.supports("retain") {
		return nil, fmt.Errorf("zccp: the broker does not keep last values")
	}
	call := Call{Method: codec.MethodLast}
	if expr != "" {
		call.Headers = map[string]string{codec.HdrSelect: expr}
	}
	r, err := c.Do(ctx, codec.NoticeSender, call)
	if err != nil {
		return nil, err
	}
	out := make([]LastValue, 0, len(r.Content))
	for _, line := range r.Content {
		if len(line) == 0 {
			continue // the broker's "none"
		}
		var rec struct {
			Address, Sender string
			Headers         map[string]string
			Content         [][]byte
			AgeMS           int64 `json:"age_ms"`
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			return nil, fmt.Errorf("zccp: broker sent a bad last value record: %w", err)
		}
		out = append(out, LastValue{Address: rec.Address, Sender: rec.Sender, Headers: rec.Headers, Content: rec.Content, Age: time.Duration(rec.AgeMS) * time.Millisecond})
	}
	return out, nil
}
