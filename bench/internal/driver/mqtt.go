package driver

import (
	"context"
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// MQTT drives Mosquitto with the Eclipse Paho Go client, MQTT 3.1.1,
// QoS 0, clean sessions. Subjects use '/'; Prefix uses the single-level
// wildcard '+'.
type MQTT struct{}

// Name implements Driver.
func (MQTT) Name() string { return "mqtt" }

// Subject implements Driver.
func (MQTT) Subject(parts ...string) string { return slashed(parts) }

// Exact implements Driver.
func (MQTT) Exact(parts ...string) string { return slashed(parts) }

// Prefix implements Driver.
func (MQTT) Prefix(parts ...string) string { return slashed(parts) + "/+" }

// Dial implements Driver.
func (MQTT) Dial(ctx context.Context, addr, id string) (Conn, error) {
	o := mqtt.NewClientOptions().
		AddBroker("tcp://" + addr).
		SetClientID(id).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(60 * time.Second).
		SetConnectTimeout(10 * time.Second).
		SetOrderMatters(true) // handlers in order on one goroutine, as the others
	cl := mqtt.NewClient(o)
	if err := wait(ctx, cl.Connect()); err != nil {
		return nil, fmt.Errorf("mqtt connect: %w", err)
	}
	return &mqttConn{cl: cl}, nil
}

// wait waits for a Paho token within ctx.
func wait(ctx context.Context, t mqtt.Token) error {
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

type mqttConn struct {
	counters
	cl mqtt.Client
}

// mqttSubscribeBatch is how many topic filters go in one SUBSCRIBE packet.
const mqttSubscribeBatch = 100

// Subscribe implements Conn.
func (c *mqttConn) Subscribe(ctx context.Context, patterns []string, h Handler) error {
	mh := func(_ mqtt.Client, m mqtt.Message) { h(m.Payload(), 0) }
	for len(patterns) > 0 {
		n := min(len(patterns), mqttSubscribeBatch)
		filters := make(map[string]byte, n)
		for _, p := range patterns[:n] {
			filters[p] = 0
		}
		patterns = patterns[n:]
		if err := wait(ctx, c.cl.SubscribeMultiple(filters, mh)); err != nil {
			return fmt.Errorf("mqtt subscribe: %w", err)
		}
	}
	return nil
}

// Publish copies payload: Paho keeps a reference to it until its writer
// goroutine has sent the packet. The QoS 0 token is not waited for;
// Paho's unbuffered outbound channel already makes Publish wait for its
// writer.
func (c *mqttConn) Publish(subject string, payload []byte) error {
	p := make([]byte, len(payload))
	copy(p, payload)
	t := c.cl.Publish(subject, 0, false, p)
	select {
	case <-t.Done():
		return t.Error()
	default:
		return nil
	}
}

// Flush is a no-op: Paho writes each packet as it is published.
func (c *mqttConn) Flush() {}

// Stats implements Conn.
func (c *mqttConn) Stats() Stats { return c.stats() }

// Close implements Conn.
func (c *mqttConn) Close() { c.cl.Disconnect(100) }
