package broker

import "github.com/zccp-go/zccp/codec"

// action is what the broker does with one incoming command. The mapping
// from (has a session, command) to action is the ZCCP/1 server state
// machine; it is pure so that it can be tested as a table.
type action uint8

const (
	actInvalid   action = iota // answer INVALID; forget the session if any
	actHello                   // start a session
	actSubscribe               // add or cancel an expression
	actPublish                 // route to subscribers
	actDirect                  // route to one identifier
	actGoodbye                 // answer GOODBYE-OK with statistics; end the session
	actPingOK                  // the client answered our PING: nothing to do
	actPing                    // the client pings us (extension): answer PING-OK
)

// nextAction returns what to do with a command, given whether the
// connection has a live session. Before HELLO everything but HELLO is
// INVALID; a second HELLO is INVALID (and drops the session, as the
// original broker does); commands only a broker may send are INVALID.
func nextAction(hasSession bool, id codec.ID) action {
	if !hasSession {
		if id == codec.Hello {
			return actHello
		}
		return actInvalid
	}
	switch id {
	case codec.Subscribe:
		return actSubscribe
	case codec.Publish:
		return actPublish
	case codec.Direct:
		return actDirect
	case codec.Goodbye:
		return actGoodbye
	case codec.PingOK:
		return actPingOK
	case codec.Ping:
		return actPing
	}
	return actInvalid // HELLO again, or HELLO-OK, SUBSCRIBE-OK, DELIVER, GOODBYE-OK, INVALID
}
