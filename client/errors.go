package client

import (
	"errors"
	"fmt"

	"github.com/zccp-go/zccp/codec"
)

// Errors returned by the client. Broker-reported failures are *Notice
// values; errors.Is(err, ErrNoSuchClient) and friends work on them.
var (
	ErrClosed       = errors.New("zccp: client closed")
	ErrNotConnected = errors.New("zccp: not connected")
	ErrBufferFull   = errors.New("zccp: outgoing buffer full")
	ErrSlowConsumer = errors.New("zccp: slow consumer: deliveries dropped")
	ErrTakenOver    = errors.New("zccp: identifier taken over by a newer session")
	ErrNoSuchClient = errors.New("zccp: no such client")
	ErrBadExpr      = errors.New("zccp: bad expression")
	ErrRefused      = errors.New("zccp: refused by the broker")
	ErrStringTooBig = codec.ErrStringTooLong
)

// Notice is an error the broker reported with a DELIVER from "$zccp".
type Notice struct {
	Code    string // zccp-error, e.g. "no-such-client"
	Reason  string // zccp-reason, human readable
	Command string // zccp-command: the command it is about
	Address string // zccp-address: the address, identifier or expression
	Headers map[string]string
}

// Error implements error.
func (n *Notice) Error() string {
	s := "zccp: broker: " + n.Code
	if n.Command != "" {
		s += " (" + n.Command
		if n.Address != "" {
			s += fmt.Sprintf(" %q", n.Address)
		}
		s += ")"
	}
	if n.Reason != "" {
		s += ": " + n.Reason
	}
	return s
}

// Is maps notice codes to the package's sentinel errors.
func (n *Notice) Is(target error) bool {
	switch target {
	case ErrNoSuchClient:
		return n.Code == codec.ErrCodeNoSuchClient
	case ErrBadExpr:
		return n.Code == codec.ErrCodeBadExpression
	case ErrTakenOver:
		return n.Code == codec.ErrCodeTakenOver
	case ErrRefused:
		return true
	}
	return false
}

func noticeFrom(h codec.Headers) *Notice {
	return &Notice{
		Code:    h[codec.HdrError],
		Reason:  h[codec.HdrReason],
		Command: h[codec.HdrCommand],
		Address: h[codec.HdrAddress],
		Headers: h,
	}
}
