package client

import (
	"fmt"

	"github.com/zccp-go/zccp/codec"
)

// Reply is a device's answer to a request (or the broker's, on behalf of
// a device that cannot answer).
type Reply struct {
	From    string            // identifier of the device the reply is about
	Status  string            // "ok", "error" or "progress"
	Code    string            // on errors: a machine-readable code (zccp-error)
	Reason  string            // on errors: human-readable text (zccp-reason)
	Headers map[string]string // all headers of the reply
	Content [][]byte          // content frames
}

// Body returns the first content frame, or nil.
func (r *Reply) Body() []byte {
	if r == nil || len(r.Content) == 0 {
		return nil
	}
	return r.Content[0]
}

// Err returns nil for a successful reply and a *RequestError otherwise.
func (r *Reply) Err() error {
	if r.Status == codec.StatusOK || r.Status == codec.StatusProgress {
		return nil
	}
	return &RequestError{From: r.From, Code: r.Code, Reason: r.Reason}
}

// RequestError is a request that failed: the device answered with an
// error, or the broker answered for it.
type RequestError struct {
	From   string // the device concerned
	Code   string // zccp-error, e.g. "no-such-client", "expired", "device-error"
	Reason string
}

// Error implements error.
func (e *RequestError) Error() string {
	code := e.Code
	if code == "" {
		code = codec.ErrCodeDeviceError
	}
	s := fmt.Sprintf("zccp: request to %q failed: %s", e.From, code)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Is maps codes to the sentinel errors.
func (e *RequestError) Is(target error) bool {
	return target != nil && codeErrors[e.Code] == target
}

// replyFrom turns a DELIVER carrying zccp-reply-to into a Reply.
func replyFrom(d *Delivery) *Reply {
	r := &Reply{
		From:    d.Sender,
		Status:  d.Headers[codec.HdrStatus],
		Code:    d.Headers[codec.HdrError],
		Reason:  d.Headers[codec.HdrReason],
		Headers: d.Headers,
		Content: d.Content,
	}
	if d.Sender == codec.NoticeSender {
		if who, ok := d.Headers[codec.HdrRecipient]; ok {
			r.From = who
		}
		if r.Status == codec.StatusError {
			// The broker's error replies carry their reason as content
			// (every broker DELIVER has a frame); it is in Reason already.
			r.Content = nil
		}
	}
	if r.Status == "" {
		r.Status = codec.StatusOK
	}
	return r
}
