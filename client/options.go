package client

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"

	"github.com/zccp-go/zccp/zmtp"
)

// Option configures Connect.
type Option func(*options)

type options struct {
	identifier   string
	labels       map[string]string
	logger       *slog.Logger
	onError      func(error)
	onState      func(State)
	onDirect     Handler
	handlers     map[string]RequestHandler
	handleAll    RequestHandler
	reconnectMin time.Duration
	reconnectMax time.Duration
	heartbeat    time.Duration
	silence      time.Duration
	bufferMsgs   int
	bufferBytes  int
	pendingLimit int
	closeTimeout time.Duration
	curve        *zmtp.CurveClient // WithCurve; nil: NULL security
}

// Off, given to an option that documents it (WithHeartbeat), switches
// that feature off. One rule for every option: a zero or negative value
// is never a silent default nor a silent "off" — Connect rejects it with
// an error wrapping ErrBadOption; "off" is spelled Off. (The same rule
// holds for zccpd's and zccp's flags, which spell it "off".)
const Off time.Duration = -1

// Defaults.
const (
	DefaultHeartbeat    = 2 * time.Second
	DefaultSilence      = 10 * time.Second
	DefaultBufferMsgs   = 10000
	DefaultBufferBytes  = 8 << 20
	DefaultPendingLimit = 65536
)

func defaults() options {
	return options{
		logger:       slog.New(slog.DiscardHandler),
		reconnectMin: 100 * time.Millisecond,
		reconnectMax: 5 * time.Second,
		heartbeat:    DefaultHeartbeat,
		silence:      DefaultSilence,
		bufferMsgs:   DefaultBufferMsgs,
		bufferBytes:  DefaultBufferBytes,
		pendingLimit: DefaultPendingLimit,
		closeTimeout: 2 * time.Second,
	}
}

// WithIdentifier sets the identifier sent in HELLO: the address others use
// to Send (DIRECT) to this client. At most 255 bytes; identifiers starting
// with "$" are reserved for the broker.
func WithIdentifier(id string) Option { return func(o *options) { o.identifier = id } }

// WithLabels sets the HELLO headers: the client's properties, such as
// kind=pdu or rack=12.
func WithLabels(labels map[string]string) Option {
	return func(o *options) { o.labels = maps.Clone(labels) }
}

// WithLogger sets where the client logs (default: nowhere).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithErrorHandler sets a callback for asynchronous errors: broker notices
// not tied to a call, dropped deliveries, takeover. It must not block.
func WithErrorHandler(f func(error)) Option { return func(o *options) { o.onError = f } }

// WithStateHandler sets a callback for connection state changes. It must
// not block.
func WithStateHandler(f func(State)) Option { return func(o *options) { o.onState = f } }

// WithDirectHandler sets the handler for messages sent to this client's
// identifier with Send (DIRECT). Without one they are dropped and counted.
func WithDirectHandler(h Handler) Option { return func(o *options) { o.onDirect = h } }

// WithReconnect sets the backoff bounds between reconnection attempts
// (default 100 ms to 5 s, with ±25% jitter; 0 < min <= max).
func WithReconnect(min, max time.Duration) Option {
	return func(o *options) { o.reconnectMin, o.reconnectMax = min, max }
}

// WithHeartbeat sets how often the client pings a quiet broker (ZMTP
// PING, which any ZeroMQ peer answers) and after how much silence it
// gives the connection up and reconnects (defaults 2 s and 10 s). Both
// must be positive, silence longer than interval; silence Off pings but
// never gives up; interval and silence Off switch the heartbeat off.
func WithHeartbeat(interval, silence time.Duration) Option {
	return func(o *options) { o.heartbeat, o.silence = interval, silence }
}

// WithBuffer bounds what Publish and Send may queue, connected or not
// (defaults 10000 messages, 8 MiB; both must be positive). Beyond it they
// return ErrBufferFull.
func WithBuffer(messages, bytes int) Option {
	return func(o *options) { o.bufferMsgs, o.bufferBytes = messages, bytes }
}

// WithPendingLimit bounds the deliveries waiting for each subscription's
// handler (default 65536); beyond it deliveries are dropped and
// ErrSlowConsumer is reported.
func WithPendingLimit(n int) Option { return func(o *options) { o.pendingLimit = n } }

// WithHandler registers a request handler for method before the client
// says HELLO, so that no request can arrive before it, and declares the
// client a member of group requests from its first HELLO (see Handle).
func WithHandler(method string, h RequestHandler) Option {
	return func(o *options) {
		if o.handlers == nil {
			o.handlers = map[string]RequestHandler{}
		}
		o.handlers[method] = h
	}
}

// WithHandleAll registers the catch-all request handler before HELLO (see
// HandleAll).
func WithHandleAll(h RequestHandler) Option { return func(o *options) { o.handleAll = h } }

// WithCurve makes the client speak CURVE (ZeroMQ's CurveZMQ encryption
// and authentication) with keys as its long-term key pair, to a broker
// whose long-term public key is server (what `zccpd key` prints). A
// client with the wrong server key never connects: each attempt fails
// with an error wrapping zmtp.ErrCurve, reported like any unreachable
// broker; a key the broker refuses gives zmtp.ErrUnauthorized.
func WithCurve(keys zmtp.CurveKeyPair, server zmtp.CurveKey) Option {
	return func(o *options) { o.curve = &zmtp.CurveClient{Keys: keys, ServerKey: server} }
}

// mechanism is the ZMTP security mechanism to connect with (nil: NULL).
func (o *options) mechanism() zmtp.Mechanism {
	if o.curve == nil {
		return nil
	}
	return o.curve
}

// ErrBadOption: an option's value is out of its range (see Off for the
// rule on zero values).
var ErrBadOption = errors.New("zccp: bad option")

// validate rejects out-of-range options instead of rewriting them.
func (o *options) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrBadOption}, args...)...))
	}
	if strings.HasPrefix(o.identifier, "$") {
		bad("identifier %q: identifiers starting with $ are reserved for the broker", o.identifier)
	}
	if o.reconnectMin <= 0 || o.reconnectMax < o.reconnectMin {
		bad("WithReconnect(%v, %v): want 0 < min <= max", o.reconnectMin, o.reconnectMax)
	}
	switch {
	case o.heartbeat == Off && o.silence == Off:
	case o.heartbeat <= 0 || (o.silence <= 0 && o.silence != Off) || (o.silence != Off && o.silence <= o.heartbeat):
		bad("WithHeartbeat(%v, %v): want 0 < interval < silence, silence Off, or both Off", o.heartbeat, o.silence)
	}
	if o.bufferMsgs <= 0 || o.bufferBytes <= 0 {
		bad("WithBuffer(%d, %d): both must be positive", o.bufferMsgs, o.bufferBytes)
	}
	if c := o.curve; c != nil && (c.ServerKey.IsZero() || c.Keys.Secret.IsZero() || c.Keys.Public.IsZero()) {
		bad("WithCurve: the key pair and the server key must all be set")
	}
	if o.pendingLimit <= 0 {
		bad("WithPendingLimit(%d): must be positive", o.pendingLimit)
	}
	return errors.Join(errs...)
}
