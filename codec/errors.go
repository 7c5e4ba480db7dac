package codec

import (
	"errors"
	"strconv"
	"strings"
)

// ErrMalformed is matched (via errors.Is) by every decoding error. The
// concrete error is an *Error that says where and why.
var ErrMalformed = errors.New("zccp: malformed message")

// ErrStringTooLong is wrapped by encoding errors for a string field or a
// header name longer than MaxString bytes.
var ErrStringTooLong = errors.New("zccp: string longer than 255 bytes")

// ErrValueTooLong is wrapped by encoding errors for a header value longer
// than 4294967295 bytes or a dictionary with more entries than that (the
// largest longstr length and dictionary count).
var ErrValueTooLong = errors.New("zccp: longstr or dictionary too large")

// ErrUnknownCommand is wrapped by encoding errors for an id that ZCCP/1
// does not define.
var ErrUnknownCommand = errors.New("zccp: unknown command id")

// Kind classifies a decoding error.
type Kind uint8

// The kinds of malformed input.
const (
	// KindEmpty: the message has no frames at all.
	KindEmpty Kind = iota + 1
	// KindShort: frame 1 is shorter than the 3 bytes of signature and id.
	KindShort
	// KindSignature: frame 1 does not start with 0xAA 0xAA.
	KindSignature
	// KindUnknownID: the command id is not one of the twelve ZCCP/1 ids.
	KindUnknownID
	// KindTruncated: a field (a length, count, name or value) runs past the
	// end of frame 1. This includes a dictionary count that the remaining
	// bytes cannot possibly hold (every entry takes at least 5 bytes).
	KindTruncated
	// KindTrailing: bytes follow the command's last field in frame 1.
	KindTrailing
	// KindDuplicateHeader: a header name appears more than once in a
	// dictionary.
	KindDuplicateHeader
	// KindUnexpectedContent: content frames follow a command that has no
	// content field.
	KindUnexpectedContent
)

var kindNames = [...]string{
	KindEmpty:             "empty message",
	KindShort:             "short frame",
	KindSignature:         "bad signature",
	KindUnknownID:         "unknown command id",
	KindTruncated:         "field runs past end of frame",
	KindTrailing:          "trailing bytes",
	KindDuplicateHeader:   "duplicate header name",
	KindUnexpectedContent: "unexpected content frames",
}

// String returns a short description of the kind.
func (k Kind) String() string {
	if k != 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Error describes malformed input found by Decode or Parse.
//
// Its message reads like
//
//	zccp: malformed SUBSCRIBE: field "headers" at offset 4: dictionary count 4294967295 exceeds remaining 3 bytes
type Error struct {
	Cmd    ID     // the command id, 0 when the failure precedes it; may be an unknown id (KindUnknownID)
	Field  string // "identifier", "expression", "sender", "address", "headers" or "content"; "" when not about a field
	Offset int    // byte offset in frame 1 where the problem was found; -1 when no offset applies
	Kind   Kind   // the class of the problem
	Reason string // human-readable detail
}

// Error implements the error interface.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("zccp: malformed ")
	if e.Cmd.Valid() {
		b.WriteString(e.Cmd.String())
	} else {
		b.WriteString("message")
	}
	sep := ": "
	if e.Field != "" {
		b.WriteString(": field ")
		b.WriteString(strconv.Quote(e.Field))
		sep = " "
	}
	if e.Offset >= 0 {
		b.WriteString(sep)
		b.WriteString("at offset ")
		b.WriteString(strconv.Itoa(e.Offset))
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap returns ErrMalformed, so that errors.Is(err, ErrMalformed) holds.
func (e *Error) Unwrap() error { return ErrMalformed }

// malformed builds a decoding error. It is only called on failure paths.
func malformed(kind Kind, cmd ID, field string, offset int, reason string) error {
	return &Error{Cmd: cmd, Field: field, Offset: offset, Kind: kind, Reason: reason}
}
