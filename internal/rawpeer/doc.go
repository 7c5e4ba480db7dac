// Package rawpeer is a ZCCP/1 client written by hand on a net.Conn, for
// tests and load generators that must not go through the project's own
// zmtp, codec or client packages: it has its own ZMTP 3.1 greeting, NULL
// READY handshake and frame encoder/decoder, so a defect in those packages
// cannot hide itself in both ends of a test.
//
// A Peer says HELLO, SUBSCRIBEs, PUBLISHes and DIRECTs, and reads DELIVERs
// and the broker's other commands, answering the broker's ZCCP PING with
// PING-OK and ZMTP PING with PONG on the way. For load it can encode a
// burst of numbered PUBLISHes into one buffer (Burst) and write it with a
// single call, so the broker sees messages back to back with no gap
// between them; a Tally checks the numbers a subscriber receives (strictly
// increasing) and adds up the zccp-missed counts the broker reports, so
// that received + missed == sent can be asserted exactly. A subscriber that
// never calls Next is a stalled consumer.
//
// One goroutine may read (Next, ReadMessage) while others write (Publish,
// Write, ...); writes are serialised by a mutex. Messages returned by Next
// point into the read buffer and are valid only until the next read.
package rawpeer
