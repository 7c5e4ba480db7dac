package broker

import (
	"strconv"
	"time"

	"github.com/zccp-go/zccp/codec"
)

// ext holds the extension headers of one PUBLISH or DIRECT as views into
// the frame, found in one walk over the dictionary. A nil field is absent.
type ext struct {
	requestID, method, ttl, replyTo, status, sel, cancel []byte
	dryRun                                               bool
	owned, replyOnly                                     []byte // the first broker-owned / reply-only header name seen
}

// scanExt walks the headers once, picking out the zccp- names the broker
// acts on. Headers without the prefix cost one byte comparison each.
func scanExt(h codec.RawHeaders) ext {
	var e ext
	for name, value := range h.All() {
		if len(name) < 6 || name[0] != 'z' || string(name[:5]) != "zccp-" {
			continue
		}
		switch string(name) {
		case codec.HdrRequestID:
			e.requestID = value
		case codec.HdrMethod:
			e.method = value
		case codec.HdrTTL:
			e.ttl = value
		case codec.HdrReplyTo:
			e.replyTo = value
		case codec.HdrStatus:
			e.status = value
		case codec.HdrSelect:
			e.sel = value
		case codec.HdrCancelRequest:
			e.cancel = value
		case codec.HdrDryRun:
			e.dryRun = string(value) == "1"
		default:
			switch {
			case codec.BrokerOwned(string(name)):
				if e.owned == nil {
					e.owned = name
				}
			case codec.ReplyOnly(string(name)):
				if e.replyOnly == nil {
					e.replyOnly = name
				}
			}
		}
	}
	return e
}

// brokerOwned returns the name of a header this client message must not
// carry (set by the broker only, or an error code outside a reply), or
// "" when it has none.
func (e *ext) brokerOwned() string {
	switch {
	case e.owned != nil:
		return string(e.owned)
	case e.replyOnly != nil && e.replyTo == nil:
		return string(e.replyOnly)
	}
	return ""
}

// reservedIdentifier reports whether a HELLO identifier is reserved for
// the broker ("$zccp" and every other name starting with "$").
func reservedIdentifier(ident []byte) bool { return len(ident) > 0 && ident[0] == '$' }

// deadline turns the zccp-ttl header into an absolute deadline (zero time
// when there is none). refused, when not empty, says why the request must
// be refused: a TTL that is not a number, or longer than maxTTL.
func (e *ext) deadline(now time.Time, maxTTL time.Duration) (d time.Time, refused string) {
	if e.ttl == nil {
		return time.Time{}, ""
	}
	ms, err := strconv.ParseInt(string(e.ttl), 10, 64)
	if err != nil || ms < 0 || ms > 1e10 {
		return time.Time{}, codec.HdrTTL + " must be a whole number of milliseconds"
	}
	if ttl := time.Duration(ms) * time.Millisecond; ttl > maxTTL {
		return time.Time{}, codec.HdrTTL + " " + string(e.ttl) + " is longer than the broker's maximum of " +
			strconv.FormatInt(maxTTL.Milliseconds(), 10) + " ms"
	}
	return now.Add(time.Duration(ms) * time.Millisecond), ""
}

// labelsMatch reports whether labels satisfy a selector "k=v,k2=v2"
// (every pair must be present with that value; an empty selector matches
// everything).
func labelsMatch(labels codec.Headers, sel []byte) bool {
	for len(sel) > 0 {
		var pair []byte
		pair, sel = cut(sel, ',')
		if len(pair) == 0 {
			continue
		}
		k, v := cut(pair, '=')
		got, ok := labels[string(k)]
		if !ok || got != string(v) {
			return false
		}
	}
	return true
}

func cut(b []byte, sep byte) (before, after []byte) {
	for i, c := range b {
		if c == sep {
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}
