package zmtp

import (
	"context"
	"errors"
	"fmt"
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
	// handshake or were refused (ErrTooManyConnections) and about accept
	// errors. It must not block.
	OnError func(remote net.Addr, err error)
	// MaxConnsPerHost, when positive, bounds the connections (handshaking
	// or established) from one remote IP address; a connection beyond it
	// is closed at once, before its handshake. Unix-socket peers are not
	// counted.
	MaxConnsPerHost int

	mu          sync.Mutex
	listeners   map[net.Listener]struct{}
	handshaking map[net.Conn]struct{} // accepted, handshake not done: closed by Close/Shutdown
	conns       map[RoutingID]*Conn
	perHost     map[string]int // open connections by remote IP (MaxConnsPerHost)
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
		s.perHost = map[string]int{}
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
		host, ok := s.admit(nc.RemoteAddr())
		if !ok {
			nc.Close()
			s.report(nc.RemoteAddr(), fmt.Errorf("%w: %d from %s", ErrTooManyConnections, s.MaxConnsPerHost, host))
			continue
		}
		s.wg.Add(1)
		go s.serveConn(nc, host)
	}
}

// ErrTooManyConnections reports a connection closed at once because its
// remote address already has Server.MaxConnsPerHost connections.
var ErrTooManyConnections = errors.New("zmtp: too many connections from one address")

// HostOf returns the IP address of a tcp peer, or "" for other transports.
func HostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	return ""
}

// admit counts a new connection from remote against MaxConnsPerHost and
// returns the host it was counted for ("" when not counted).
func (s *Server) admit(remote net.Addr) (string, bool) {
	host := HostOf(remote)
	if host == "" || s.MaxConnsPerHost <= 0 {
		return "", true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perHost[host] >= s.MaxConnsPerHost {
		return host, false
	}
	s.perHost[host]++
	return host, true
}

// release uncounts a connection admitted for host.
func (s *Server) release(host string) {
	if host == "" {
		return
	}
	s.mu.Lock()
	if s.perHost[host]--; s.perHost[host] <= 0 {
		delete(s.perHost, host)
	}
	s.mu.Unlock()
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

func (s *Server) serveConn(nc net.Conn, host string) {
	defer s.wg.Done()
	defer s.release(host)
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
