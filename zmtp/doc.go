// Package zmtp speaks ZMTP 3.0/3.1, ZeroMQ's wire protocol, natively in Go.
//
// It provides what a ZCCP broker and its clients need and nothing more:
//
//   - endpoints written the ZeroMQ way (tcp://host:port, tcp://*:port,
//     ipc:///path, ipc://@/abstract-name) via [Listen] and [Dial];
//   - the greeting and the NULL security mechanism with READY metadata
//     (Socket-Type, Identity) and socket-type compatibility checks
//     ([Handshake]); other mechanisms plug in through the [Mechanism]
//     interface;
//   - CURVE (RFC 26 as libzmq 4.3 speaks it: [CurveClient], [CurveServer],
//     Z85 keys [ParseCurveKey], [NewCurveKeyPair]); after its handshake the
//     socket is wrapped so that each plaintext frame travels as one
//     encrypted MESSAGE and the framing code stays the same;
//   - framing: MORE/LONG/COMMAND flags, multipart messages, empty frames and
//     a maximum message size that is enforced before a frame body is read;
//   - ZMTP 3.1 PING/PONG: PING is answered automatically, [Conn.Ping] sends one;
//   - a buffered, coalescing, bounded outbound queue per connection
//     ([Outbox]) drained by one writer goroutine, so that many small messages
//     become few syscalls and a slow peer never blocks anybody else;
//   - ROUTER semantics on the server side ([Server]: every peer gets a
//     routing id and can be addressed) and DEALER semantics on the client
//     side ([Dealer]: connect, reconnect with backoff and jitter, queue while
//     disconnected up to a bound).
//
// Concurrency: a [Conn] has exactly one reader (the goroutine calling
// [Conn.ReadMessage]) and any number of concurrent senders; the frames
// returned by ReadMessage are valid only until the next call.
package zmtp
