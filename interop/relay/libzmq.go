package relay

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	zmq "github.com/pebbe/zmq4"
)

// libzmqHWM is the relay socket's send and receive high-water mark. The
// load client's window keeps the queues far below it, so that the relay
// never drops (a ROUTER drops silently for a full pipe) nor blocks.
const libzmqHWM = 1_000_000

// libzmqRelay is a ROUTER socket that forwards every message to every
// subscriber, in one goroutine (libzmq sockets are not thread safe).
type libzmqRelay struct {
	ctx       *zmq.Context
	sock      *zmq.Socket
	endpoint  string
	forwarded atomic.Uint64
	failed    atomic.Uint64
	stopped   chan struct{} // closed when the loop has closed the socket
}

func startLibzmq(endpoint string) (server, error) {
	ctx, err := zmq.NewContext()
	if err != nil {
		return nil, err
	}
	sock, err := ctx.NewSocket(zmq.ROUTER)
	if err != nil {
		ctx.Term()
		return nil, err
	}
	for _, set := range []func() error{
		func() error { return sock.SetLinger(0) },
		func() error { return sock.SetSndhwm(libzmqHWM) },
		func() error { return sock.SetRcvhwm(libzmqHWM) },
		func() error { return sock.SetRouterMandatory(1) },
	} {
		if err := set(); err != nil {
			sock.Close()
			ctx.Term()
			return nil, err
		}
	}
	// libzmq spells "any port" as '*'.
	if strings.HasPrefix(endpoint, "tcp://") && strings.HasSuffix(endpoint, ":0") {
		endpoint = strings.TrimSuffix(endpoint, "0") + "*"
	}
	if err := sock.Bind(endpoint); err != nil {
		sock.Close()
		ctx.Term()
		return nil, fmt.Errorf("bind %s: %w", endpoint, err)
	}
	ep, err := sock.GetLastEndpoint()
	if err != nil {
		sock.Close()
		ctx.Term()
		return nil, err
	}
	r := &libzmqRelay{ctx: ctx, sock: sock, endpoint: ep, stopped: make(chan struct{})}
	go r.loop()
	return r, nil
}

func (r *libzmqRelay) Endpoint() string { return r.endpoint }

func (r *libzmqRelay) Counters() (uint64, uint64) { return r.forwarded.Load(), r.failed.Load() }

// Close terminates the context, which makes the loop's blocked receive
// fail with ETERM; the loop then closes the socket (it owns it: libzmq
// sockets are not thread safe) and the termination completes.
func (r *libzmqRelay) Close() {
	termed := make(chan struct{})
	go func() {
		defer close(termed)
		r.ctx.Term()
	}()
	<-r.stopped
	<-termed
}

// loop receives [routing id, frames...] and forwards the frames to every
// subscriber; a one-frame "SUB" registers the sender as a subscriber.
func (r *libzmqRelay) loop() {
	defer close(r.stopped)
	defer r.sock.Close()
	var subs [][]byte
	for {
		msg, err := r.sock.RecvMessageBytes(0)
		if err != nil {
			if zmq.AsErrno(err) != zmq.ETERM {
				fmt.Fprintln(os.Stderr, "libzmq relay: recv:", err)
			}
			return
		}
		if len(msg) < 2 {
			continue
		}
		id, body := msg[0], msg[1:]
		if len(body) == 1 && string(body[0]) == "SUB" {
			subs = append(subs, id)
			if _, err := r.sock.SendMessage(id, "ok"); err != nil {
				r.failed.Add(1)
			}
			continue
		}
		// Counted before sending, so that a sample taken once the
		// subscribers have everything is complete.
		r.forwarded.Add(uint64(len(subs)))
		last := len(body) - 1
		for _, sub := range subs {
			if _, err := r.sock.SendBytes(sub, zmq.SNDMORE); err != nil {
				r.failed.Add(1) // EHOSTUNREACH: the subscriber is gone
				continue
			}
			for i, f := range body {
				flag := zmq.SNDMORE
				if i == last {
					flag = 0
				}
				if _, err := r.sock.SendBytes(f, flag); err != nil {
					r.failed.Add(1)
					break
				}
			}
		}
	}
}
