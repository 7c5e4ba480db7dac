package zmtp

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// Server accepts ZMTP connections with ROUTER semantics: every peer gets a
// routing id, the server can address any peer by it, and each peer is
// served by its own goroutine (no single funnel as in a libzmq ROUTER).
//
// Set Options and Handler before calling Serve; do not change them after.
type Server struct {
	// Options for every accepted connection; Type defaults to ROUTER.
	Options Options
	// Handler serves one connection in that connection's goroutine; when
	// it returns, the connection is closed (gracefully if the peer is
	// still there). It typically loops on Conn.ReadMessage.
	Handler func(c *Conn, id RoutingID)
	// OnError, if set, is told about connections that failed their
	// handshake and about accept errors. It must not block.
	OnError func(remote net.Addr, err error)

	mu          sync.Mutex
	listeners   map[net.Listener]struct{}
	handshaking map[net.Conn]struct{} // accepted, handshake not done: closed by Close/Shutdown
	conns       map[RoutingID]*Conn
	nextID      RoutingID
	closed      bool
	wg          sync.WaitGroup
}

// RoutingID names one connected peer for the lifetime of its connection.
type RoutingID uint64

// Serve accepts connections on ln until the server is closed. It returns
// ErrClosed after Close or Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	if s.listeners == nil {
		s.listeners = map[net.Listener]struct{}{}
		s.handshaking = map[net.Conn]struct{}{}
		s.conns = map[RoutingID]*Conn{}
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, errTooManyFiles) {
				// Out of descriptors or a transient fault: back off and retry.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.report(nil, err)
				time.Sleep(backoff)
				continue
			}
			s.report(nil, err)
			return err
		}
		backoff = 0
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		s.wg.Add(1)
		go s.serveConn(nc)
	}
}

func (s *Server) report(remote net.Addr, err error) {
	if s.OnError != nil {
		s.OnError(remote, err)
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Server) serveConn(nc net.Conn) {
	defer s.wg.Done()
	opts := s.Options
	opts.accepted = true
	if opts.Type == "" {
		opts.Type = TypeRouter
	}
	// A peer that connects and never completes the handshake must not
	// hold Shutdown for the handshake timeout: stop closes these too.
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	s.handshaking[nc] = struct{}{}
	s.mu.Unlock()
	c, err := Handshake(nc, opts)
	s.mu.Lock()
	delete(s.handshaking, nc)
	s.mu.Unlock()
	if err != nil {
		if !s.isClosed() {
			s.report(nc.RemoteAddr(), err)
		}
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.Close()
		return
	}
	s.nextID++
	id := s.nextID
	s.conns[id] = c
	s.mu.Unlock()

	if s.Handler != nil {
		s.Handler(c, id)
	}
	c.CloseGracefully(time.Second)

	s.mu.Lock()
	delete(s.conns, id)
	s.mu.Unlock()
}

// Lookup returns the connection with the given routing id, or nil.
func (s *Server) Lookup(id RoutingID) *Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[id]
}

// Send queues a message to the peer with the given routing id. Like a
// ROUTER with ZMQ_ROUTER_MANDATORY, an unknown peer is an error rather
// than a silent drop.
func (s *Server) Send(id RoutingID, frames ...[]byte) error {
	c := s.Lookup(id)
	if c == nil {
		return ErrNoPeer
	}
	return c.Send(frames...)
}

// Len returns the number of connected peers.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Close stops accepting, closes every connection at once and waits for
// their goroutines.
func (s *Server) Close() error {
	conns := s.stop()
	for _, c := range conns {
		c.Close()
	}
	s.wg.Wait()
	return nil
}

// Shutdown stops accepting, lets every connection send what it has
// queued, then closes them; when ctx ends first, the rest are closed at
// once.
func (s *Server) Shutdown(ctx context.Context) error {
	conns := s.stop()
	for _, c := range conns {
		c.out.close(true)
	}
	done := make(chan struct{})
	go func() {
		for _, c := range conns {
			select {
			case <-c.Done():
			case <-ctx.Done():
				c.Close()
			}
		}
		close(done)
	}()
	<-done
	s.wg.Wait()
	return ctx.Err()
}

// stop marks the server closed, closes the listeners and the connections
// still in their handshake, and returns the connections that were open.
func (s *Server) stop() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	for nc := range s.handshaking {
		nc.Close()
	}
	conns := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}
