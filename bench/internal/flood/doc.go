// Package flood is the bench's load generator that does not go through
// any broker's client library: for zccpd a ZCCP/1 peer framed by hand on
// net.Conn (internal/rawpeer), for nats-server the NATS text protocol
// written by hand on net.Conn. A publisher encodes many messages into one
// buffer and writes it at once, back to back with no gap, either open loop
// (as fast as the socket takes them) or paced at a fixed rate; subscribers
// count what arrives (and, for zccpd, the zccp-missed reports), so loss is
// reported beside throughput. The broker's CPU and peak RSS are read from
// /proc.
package flood
