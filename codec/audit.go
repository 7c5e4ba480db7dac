package codec

// MethodAudit is the broker API method that returns audit records
// (docs/protocol.md §6.9); zccp-select holds the filter as a URL query:
// since, until (RFC 3339), target, method, kind, limit.
const MethodAudit = "audit"
