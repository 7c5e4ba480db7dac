package federation

import "encoding/json"

// advert is what a broker publishes on <prefix>.fed.interest (JSON).
// Kinds:
//
//	hello  a broker joined; the others answer with a full advert
//	full   the complete set of the sender's distinct expressions, in
//	       Parts messages numbered Part 0..Parts-1 (a set larger than
//	       the NATS payload limit is split); it replaces what the
//	       receiver held for the sender once the last part arrives.
//	       Sent every Options.Advertise: it is also the heartbeat.
//	delta  expressions added (Add) and withdrawn (Del) since the last
//	       advert
//	bye    the sender leaves: withdraw all of its interest
//
// Set says which set a full or delta is about: expressions (empty) or
// identifiers ("id", the registry of who is connected where).
//
// Seq increases by one per advert (a full's parts share one); a receiver
// that sees a gap applies what it got and is made whole by the next full.
type advert struct {
	V     int      `json:"v"`
	ID    string   `json:"id"`
	Name  string   `json:"name,omitempty"`
	Kind  string   `json:"kind"`
	Set   string   `json:"set,omitempty"` // "": expressions; "id": identifiers
	Seq   uint64   `json:"seq"`
	Part  int      `json:"part,omitempty"`
	Parts int      `json:"parts,omitempty"`
	Add   []string `json:"add,omitempty"`
	Del   []string `json:"del,omitempty"`
	// Policy is the digest of the sender's permission policy
	// (secure_policy.go).
	Policy string `json:"pd,omitempty"`
}

const (
	kindHello = "hello"
	kindFull  = "full"
	kindDelta = "delta"
	kindBye   = "bye"

	setExprs  = ""
	setIdents = "id"
)

// splitParts cuts exprs into runs whose JSON encoding stays under limit
// bytes (an expression is bounded by the ZCCP string limit, far below any
// NATS payload limit). There is always at least one part, possibly empty.
func splitParts(exprs []string, limit int) [][]string {
	var parts [][]string
	start, size := 0, 2 // the brackets
	for i, e := range exprs {
		enc, _ := json.Marshal(e) // a string always encodes
		n := len(enc) + 1
		if size+n > limit && i > start {
			parts = append(parts, exprs[start:i])
			start, size = i, 2
		}
		size += n
	}
	return append(parts, exprs[start:])
}
