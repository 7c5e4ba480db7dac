package zmtp

import "time"

// Defaults for Options fields left zero.
const (
	DefaultMaxMessageSize   = 16 << 20
	DefaultMaxFrames        = 1024
	DefaultHandshakeTimeout = 10 * time.Second
)

// Options configure one side of a ZMTP connection.
type Options struct {
	// Type is our socket type, sent as Socket-Type; required.
	Type SocketType
	// Identity is sent as the Identity property (ROUTER/DEALER/REQ only).
	Identity []byte
	// Mechanism is the security mechanism; nil means NULL.
	Mechanism Mechanism
	// MaxMessageSize bounds the total body size of one incoming message;
	// a larger one is refused (ErrTooLarge) before its body is read.
	// Zero means DefaultMaxMessageSize; negative means no limit.
	MaxMessageSize int64
	// MaxFrames bounds the number of frames of one incoming message.
	// Zero means DefaultMaxFrames; negative means no limit.
	MaxFrames int
	// HandshakeTimeout bounds greeting and mechanism handshake.
	HandshakeTimeout time.Duration
	// Queue bounds the outbound queue of each connection.
	Queue Limits
	// WriteTimeout, when positive, closes a connection whose peer has not
	// accepted a batch of bytes for that long.
	WriteTimeout time.Duration

	accepted bool // set by Server: the peer connected to us (negotiate.go)
}

func (o Options) withDefaults() Options {
	if o.Mechanism == nil {
		o.Mechanism = Null{}
	}
	if o.MaxMessageSize == 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.MaxFrames == 0 {
		o.MaxFrames = DefaultMaxFrames
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	o.Queue = o.Queue.withDefaults()
	return o
}

// metadata returns the properties we announce.
func (o Options) metadata() [][2]string {
	props := [][2]string{{PropSocketType, string(o.Type)}}
	switch o.Type {
	case TypeRouter, TypeDealer, TypeReq:
		props = append(props, [2]string{PropIdentity, string(o.Identity)})
	}
	return props
}
