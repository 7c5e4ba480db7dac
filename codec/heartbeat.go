package codec

// HdrHeartbeat, in HELLO, declares how often (milliseconds) the client
// needs traffic from the broker to consider it present; a client that
// does not watch for broker silence at all may declare a long interval.
// The broker PINGs such a session only after that much silence in either
// direction (never less than its own ping interval) and expires it after
// that interval plus its timeout; it echoes the accepted value in
// HELLO-OK, with zccp-ping-interval and zccp-timeout for this session.
const HdrHeartbeat = "zccp-heartbeat"
