package codec

// Last values (extension "retain", protocol §6.10).
const (
	HdrRetain   = "zccp-retain"   // on PUBLISH, "1": keep this message as the address's last value (no content: clear it)
	HdrLast     = "zccp-last"     // on SUBSCRIBE, "1": first deliver every matching last value, then live traffic
	HdrRetained = "zccp-retained" // on a DELIVER of a stored last value: "1"
	HdrAge      = "zccp-age"      // on a DELIVER of a stored last value: ms since it was published

	// MethodLast is the broker API method that returns the last values
	// whose address matches the expression in zccp-select.
	MethodLast = "last"
)

// MethodStats is the broker API method that returns the broker's
// counters (first content frame, JSON) and one frame per live session
// with its queue (zccp top reads it).
const MethodStats = "stats"
