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
	ErrBufferFull   = errors.New("zccp: outgoing buffer full")
	ErrSlowConsumer = errors.New("zccp: slow consumer: deliveries dropped")
	ErrTakenOver    = errors.New("zccp: identifier taken over by a newer session")
	ErrNoSuchClient = errors.New("zccp: no such client")
	ErrBadExpr      = errors.New("zccp: bad expression")
	ErrRefused      = errors.New("zccp: refused by the broker")
	ErrStringTooBig = codec.ErrStringTooLong
	// ErrUnsupported: the broker did not announce the extension a call
	// needs (zccp-extensions in HELLO-OK), e.g. an original ZCCP/1 broker,
	// which silently drops DIRECT and knows no requests.
	ErrUnsupported = errors.New("zccp: not supported by the broker")
	// ErrUnreachable is reported (WithErrorHandler) for a failed
	// connection attempt; the client keeps retrying.
	ErrUnreachable = errors.New("zccp: cannot connect to the broker")

	// Errors of requests. A failed request returns a *RequestError, which
	// matches these with errors.Is.
	ErrExpired      = errors.New("zccp: request expired before it could run")
	ErrDisconnected = errors.New("zccp: device disconnected with the request outstanding")
	ErrDeviceError  = errors.New("zccp: device reported an error")
	ErrNoSuchMethod = errors.New("zccp: device has no handler for the method")
	ErrCancelled    = errors.New("zccp: request cancelled")
	ErrTimeout      = errors.New("zccp: no reply within the timeout")
	ErrConnLost     = errors.New("zccp: connection to the broker lost with the request outstanding")
	ErrQueueFull    = errors.New("zccp: device's queue is full")
)

// codeErrors maps the broker's and devices' error codes (zccp-error) to
// the sentinel errors that *Notice and *RequestError match.
var codeErrors = map[string]error{
	codec.ErrCodeNoSuchClient:  ErrNoSuchClient,
	codec.ErrCodeBadExpression: ErrBadExpr,
	codec.ErrCodeTakenOver:     ErrTakenOver,
	codec.ErrCodeExpired:       ErrExpired,
	codec.ErrCodeDisconnected:  ErrDisconnected,
	codec.ErrCodeNoSuchMethod:  ErrNoSuchMethod,
	codec.ErrCodeCancelled:     ErrCancelled,
	codec.ErrCodeQueueFull:     ErrQueueFull,
	codec.ErrCodeDeviceError:   ErrDeviceError,
	"":                         ErrDeviceError, // an error reply without a code
}

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
	return target == ErrRefused || codeErrors[n.Code] == target && target != nil
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
