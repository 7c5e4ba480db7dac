package zmtp

// SocketType is a ZeroMQ socket type name as carried in READY metadata.
type SocketType string

// Socket types used by ZCCP and their usual peers.
const (
	TypeRouter SocketType = "ROUTER"
	TypeDealer SocketType = "DEALER"
	TypeReq    SocketType = "REQ"
	TypeRep    SocketType = "REP"
)

// compatible lists, per RFC 23 (and RFC 28 for REQ/REP), the peer socket
// types each of our socket types accepts.
var compatible = map[SocketType][]SocketType{
	TypeRouter: {TypeDealer, TypeReq, TypeRouter},
	TypeDealer: {TypeRouter, TypeRep, TypeDealer},
	TypeReq:    {TypeRep, TypeRouter},
	TypeRep:    {TypeReq, TypeDealer},
}

// Compatible reports whether a socket of type ours may talk to a peer of
// type peer.
func Compatible(ours, peer SocketType) bool {
	for _, t := range compatible[ours] {
		if t == peer {
			return true
		}
	}
	return false
}
