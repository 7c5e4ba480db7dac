package codec

// Extension header names defined by this project (see docs/protocol.md for
// their meaning). Every name starts with "zccp-"; original ZCCP/1 peers
// ignore them. Headers written by the broker only (BrokerOwned) are
// refused on a client's PUBLISH or DIRECT with a reserved notice.
const (
	// HELLO-OK (broker properties).
	HdrBroker       = "zccp-broker"        // broker software name
	HdrVersion      = "zccp-version"       // broker software version
	HdrExtensions   = "zccp-extensions"    // comma-separated extension names
	HdrPingInterval = "zccp-ping-interval" // ms of outbound silence before the broker PINGs
	HdrTimeout      = "zccp-timeout"       // ms of inbound silence before the broker expires a session
	HdrMaxMessage   = "zccp-max-message"   // largest accepted message, bytes
	HdrSession      = "zccp-session"       // broker-assigned session number
	HdrReplaced     = "zccp-replaced"      // "1": this HELLO took the identifier over from an older session

	// HELLO (client declarations).
	HdrServes = "zccp-serves" // "1": this client serves requests; only such sessions are members of group requests

	// SUBSCRIBE options.
	HdrCancel = "zccp-cancel" // "1": remove this expression instead of adding it

	// DELIVER, broker-set.
	HdrMissed = "zccp-missed" // notifications dropped for this client since the last report

	// Broker notices (DELIVER from NoticeSender).
	HdrError   = "zccp-error"   // machine-readable error code (Err* below)
	HdrReason  = "zccp-reason"  // human-readable explanation
	HdrCommand = "zccp-command" // the command the notice is about, e.g. "DIRECT"
	HdrAddress = "zccp-address" // the address, identifier or expression that command named

	// Requests and replies (on DIRECT, PUBLISH and DELIVER).
	HdrRequestID      = "zccp-request-id"      // requester-chosen id, unique per requester
	HdrMethod         = "zccp-method"          // what the device is asked to do
	HdrTTL            = "zccp-ttl"             // ms within which the command must start; the broker refreshes it when it writes the command
	HdrReplyTo        = "zccp-reply-to"        // the request id a reply answers
	HdrStatus         = "zccp-status"          // "ok", "error" or "progress" on replies
	HdrSelect         = "zccp-select"          // label selector of a group request: "k=v,k2=v2"
	HdrDryRun         = "zccp-dry-run"         // "1": resolve a group request, send the receipt, deliver nothing
	HdrCancelRequest  = "zccp-cancel-request"  // on DIRECT to a device: cancel the request with this id
	HdrRecipient      = "zccp-recipient"       // on broker-made replies: the device concerned
	HdrRecipients     = "zccp-recipients"      // on receipts: how many devices the request was routed to
	HdrTruncated      = "zccp-truncated"       // on a clients or audit reply: how many matching sessions or records were left out (size cap)
	HdrMissingBrokers = "zccp-missing-brokers" // on an audit reply in a federation: the brokers whose records are not in it (no answer in time, or an error)

	// Presence events (DELIVER from NoticeSender on AddrPresence*).
	HdrIdentifier = "zccp-identifier" // the client the event is about
	HdrSince      = "zccp-since"      // RFC 3339 time the session started

	// GOODBYE-OK session statistics.
	HdrStatPublished = "zccp-published" // PUBLISH commands received from this session
	HdrStatDirects   = "zccp-directs"   // DIRECT commands received from this session
	HdrStatDelivered = "zccp-delivered" // DELIVERs queued to this session
	HdrStatDropped   = "zccp-dropped"   // notifications dropped for this session
	HdrStatSubs      = "zccp-subscriptions"
	HdrStatDuration  = "zccp-duration-ms" // session age
)

// NoticeSender is the sender of every DELIVER the broker originates
// (notices, receipts, presence events). Identifiers starting with "$" are
// reserved for the broker.
const NoticeSender = "$zccp"

// Notice addresses (the address of a DELIVER from NoticeSender).
const (
	AddrError          = "$zccp.error"           // a command of yours failed; see HdrError
	AddrReceipt        = "$zccp.receipt"         // who a group request was routed to
	AddrPresenceJoin   = "$zccp.presence.join"   // a session started
	AddrPresenceLeave  = "$zccp.presence.leave"  // a session ended (GOODBYE, INVALID, disconnect, takeover)
	AddrPresenceExpire = "$zccp.presence.expire" // a session expired (silent past the timeout)
)

// Reply statuses (HdrStatus).
const (
	StatusOK       = "ok"
	StatusError    = "error"
	StatusProgress = "progress"
)

// MethodClients is the broker API method (DIRECT to NoticeSender) that
// lists connected clients, optionally filtered by HdrSelect.
const MethodClients = "clients"

// Error codes carried in HdrError.
const (
	ErrCodeMalformed       = "malformed"              // a command could not be decoded
	ErrCodeTooLarge        = "too-large"              // a message exceeded the size or frame limit
	ErrCodeTooManyHeaders  = "too-many-headers"       // a dictionary exceeded the header limit
	ErrCodeBadExpression   = "bad-expression"         // a SUBSCRIBE expression did not compile
	ErrCodeTooManySubs     = "too-many-subscriptions" // the per-session subscription limit was reached
	ErrCodeNoSuchClient    = "no-such-client"         // DIRECT to an identifier nobody has
	ErrCodeQueueFull       = "queue-full"             // the recipient's queue is full; the command was not queued
	ErrCodeReserved        = "reserved"               // an address or header reserved for the broker
	ErrCodeTakenOver       = "taken-over"             // a newer session took your identifier; this session is over
	ErrCodeTooManyClients  = "too-many-clients"       // the broker is at its client limit; HELLO refused
	ErrCodeBadSequence     = "bad-sequence"           // a command that the protocol does not allow here
	ErrCodeExpired         = "expired"                // a command's TTL ran out before it could be delivered
	ErrCodeDisconnected    = "disconnected"           // the device left while the request was outstanding
	ErrCodeTooManyRequests = "too-many-requests"      // the device has too many requests outstanding
	ErrCodeNoSuchMethod    = "no-such-method"         // the device (or broker API) has no handler for the method
	ErrCodeCancelled       = "cancelled"              // the requester cancelled the request
	ErrCodeDeviceError     = "device-error"           // the device's handler failed (zccp-reason says how)
	ErrCodeBadRequest      = "bad-request"            // malformed request headers (e.g. a TTL that is not a number)
	ErrCodeNotAuthorized   = "not-authorized"         // the identifier (or operation) is not allowed for this client's key
)

// BrokerOwned reports whether a header is written by the broker only:
// a client message (PUBLISH, DIRECT) that carries one is refused with a
// reserved notice, so that no client can make its message look like the
// broker's (a receipt's zccp-recipients, an event's zccp-identifier, ...).
// zccp-error and zccp-reason are also allowed on replies (a DIRECT with
// zccp-reply-to), where devices set them; see ReplyOnly.
func BrokerOwned(name string) bool {
	switch name {
	case HdrBroker, HdrVersion, HdrExtensions, HdrPingInterval, HdrTimeout, HdrMaxMessage, HdrSession, HdrReplaced,
		HdrMissed, HdrCommand, HdrAddress, HdrRecipient, HdrRecipients, HdrIdentifier, HdrSince,
		HdrStatPublished, HdrStatDirects, HdrStatDelivered, HdrStatDropped, HdrStatSubs, HdrStatDuration,
		HdrRetained, HdrAge:
		return true
	}
	return false
}

// ReplyOnly reports whether a header may come from a client only on a
// reply (a DIRECT with zccp-reply-to): a device's error code and reason.
func ReplyOnly(name string) bool { return name == HdrError || name == HdrReason }
