package codec

// Extension header names defined by this project (see docs/protocol.md for
// their meaning). Every name starts with "zccp-"; original ZCCP/1 peers
// ignore them. Headers marked "broker-set" are written by the broker only: a
// client that sends one in PUBLISH or DIRECT gets an error notice.
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

	// SUBSCRIBE options.
	HdrCancel = "zccp-cancel" // "1": remove this expression instead of adding it

	// DELIVER, broker-set.
	HdrMissed = "zccp-missed" // notifications dropped for this client since the last report

	// Broker notices (DELIVER from NoticeSender).
	HdrError   = "zccp-error"   // machine-readable error code (Err* below)
	HdrReason  = "zccp-reason"  // human-readable explanation
	HdrCommand = "zccp-command" // the command the notice is about, e.g. "DIRECT"
	HdrAddress = "zccp-address" // the address, identifier or expression that command named

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
	AddrError = "$zccp.error" // a command of yours failed; see HdrError
)

// Error codes carried in HdrError.
const (
	ErrCodeMalformed      = "malformed"              // a command could not be decoded
	ErrCodeTooLarge       = "too-large"              // a message exceeded the size or frame limit
	ErrCodeTooManyHeaders = "too-many-headers"       // a dictionary exceeded the header limit
	ErrCodeBadExpression  = "bad-expression"         // a SUBSCRIBE expression did not compile
	ErrCodeTooManySubs    = "too-many-subscriptions" // the per-session subscription limit was reached
	ErrCodeNoSuchClient   = "no-such-client"         // DIRECT to an identifier nobody has
	ErrCodeQueueFull      = "queue-full"             // the recipient's queue is full; the command was not queued
	ErrCodeReserved       = "reserved"               // an address or header reserved for the broker
	ErrCodeTakenOver      = "taken-over"             // a newer session took your identifier; this session is over
	ErrCodeTooManyClients = "too-many-clients"       // the broker is at its client limit; HELLO refused
	ErrCodeBadSequence    = "bad-sequence"           // a command that the protocol does not allow here
)
