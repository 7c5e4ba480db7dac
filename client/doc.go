// Package client is the Go client for ZCCP: connect a device driver or an
// application to a ZCCP broker in a few lines.
//
//	c, err := client.Connect(ctx, "tcp://127.0.0.1:7878", client.WithIdentifier("pdu-12"))
//	...
//	c.Publish("power.rack12.pdu3", nil, []byte("412"))
//	sub, err := c.Subscribe(ctx, `^power\.rack12\.`, func(d *client.Delivery) { ... })
//
// The client keeps its session alive by itself: it answers the broker's
// PING, sends ZMTP heartbeats and reconnects with backoff and jitter when
// the broker goes silent or away. After a reconnect it says HELLO again
// with the same identifier and labels and restores every live
// subscription; publications made while disconnected wait in a bounded
// buffer and go out on reconnect; nothing is sent twice.
//
// A Client is safe for concurrent use. It never prints: pass a
// *slog.Logger with WithLogger and an error callback with
// WithErrorHandler to hear about asynchronous problems.
//
// Handlers run on one goroutine per subscription, in delivery order; a
// handler that falls behind by more than the subscription's pending
// limit loses deliveries (counted, and reported as ErrSlowConsumer).
package client
