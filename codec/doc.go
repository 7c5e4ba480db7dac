// Package codec implements ZCCP/1 command encoding and decoding, no I/O.
//
// A ZCCP command travels as one ZeroMQ multipart message. Frame 1 holds the
// command: the signature 0xAA 0xAA, a command id byte and the command's
// fields. Commands with a content field (PUBLISH, DIRECT, DELIVER) carry
// their content as the frames that follow frame 1. This package only deals
// with the bytes of those frames; ZMTP framing and sockets live elsewhere.
//
// Two decoding styles are offered:
//
//   - [Decode] produces a [Message] that owns all of its memory, so the
//     caller may reuse its input buffers.
//   - [Parse] validates frame 1 completely and returns a [View] whose fields
//     are sub-slices of the frame; it does not allocate. [AppendDeliver]
//     turns such a view of a PUBLISH into a DELIVER without decoding the
//     headers, which is the broker's hot path.
//
// Decoding is strict: bad signatures, unknown ids, fields that run past the
// end of frame 1, bytes after the last field, duplicate header names and
// content frames after a command without content are all errors that
// satisfy errors.Is(err, [ErrMalformed]); the concrete type is *[Error].
// Decoding never panics and never allocates on the strength of a length or
// count that the input's own size cannot back.
package codec
