package codec

import "strconv"

// ID is a ZCCP command id, the third byte of frame 1.
type ID uint8

// The ZCCP/1 command ids.
const (
	Hello       ID = 1  // client → broker: identifier, headers
	HelloOK     ID = 2  // broker → client: headers
	Subscribe   ID = 3  // client → broker: expression, headers
	SubscribeOK ID = 4  // broker → client: no fields
	Publish     ID = 5  // client → broker: address, headers, content
	Direct      ID = 6  // client → broker: address, headers, content
	Deliver     ID = 7  // broker → client: sender, address, headers, content
	Goodbye     ID = 8  // client → broker: no fields
	GoodbyeOK   ID = 9  // broker → client: headers
	Ping        ID = 10 // broker → client: no fields
	PingOK      ID = 11 // client → broker: no fields
	Invalid     ID = 12 // broker → client: no fields
)

// fieldSet records which fields a command carries. Within frame 1 the
// fields always appear in the order of these bits (identifier, expression,
// sender, address, headers); content follows frame 1.
type fieldSet uint8

const (
	hasIdentifier fieldSet = 1 << iota
	hasExpression
	hasSender
	hasAddress
	hasHeaders
	hasContent
)

type idInfo struct {
	name   string
	fields fieldSet
}

var ids = [...]idInfo{
	Hello:       {"HELLO", hasIdentifier | hasHeaders},
	HelloOK:     {"HELLO-OK", hasHeaders},
	Subscribe:   {"SUBSCRIBE", hasExpression | hasHeaders},
	SubscribeOK: {"SUBSCRIBE-OK", 0},
	Publish:     {"PUBLISH", hasAddress | hasHeaders | hasContent},
	Direct:      {"DIRECT", hasAddress | hasHeaders | hasContent},
	Deliver:     {"DELIVER", hasSender | hasAddress | hasHeaders | hasContent},
	Goodbye:     {"GOODBYE", 0},
	GoodbyeOK:   {"GOODBYE-OK", hasHeaders},
	Ping:        {"PING", 0},
	PingOK:      {"PING-OK", 0},
	Invalid:     {"INVALID", 0},
}

// String returns the command's wire name, such as "HELLO-OK", or "ID(n)"
// for an id that ZCCP/1 does not define.
func (id ID) String() string {
	if id.Valid() {
		return ids[id].name
	}
	return "ID(" + strconv.Itoa(int(id)) + ")"
}

// Valid reports whether id is one of the twelve ZCCP/1 commands.
func (id ID) Valid() bool { return id >= Hello && int(id) < len(ids) }

// HasHeaders reports whether the command carries a headers dictionary:
// HELLO, HELLO-OK, SUBSCRIBE, PUBLISH, DIRECT, DELIVER and GOODBYE-OK.
func (id ID) HasHeaders() bool { return id.fields()&hasHeaders != 0 }

// HasContent reports whether the command carries content frames after
// frame 1: PUBLISH, DIRECT and DELIVER.
func (id ID) HasContent() bool { return id.fields()&hasContent != 0 }

// fields returns the command's field set; 0 for an unknown id.
func (id ID) fields() fieldSet {
	if id.Valid() {
		return ids[id].fields
	}
	return 0
}
