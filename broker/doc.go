// Package broker implements the ZCCP broker: sessions, the ZCCP/1 state
// machine, subscription matching and routing of PUBLISH and DIRECT.
//
// Goroutines: one reader per connection (Broker.serveConn) parses
// commands and does all the work for them inline — matching, encoding
// each DELIVER straight into the recipients' outboxes — and, when its read
// buffer runs dry, flushes the outboxes it touched (one wake-up per
// recipient per batch). One writer per connection, owned by package zmtp,
// drains that connection's outbox. One ticker goroutine drives the pure
// liveness state machines (PING, expiry). No lock is held during I/O.
//
// The protocol decisions — what is answered, with which headers — are
// written in docs/protocol.md; the header names live in package codec.
package broker
