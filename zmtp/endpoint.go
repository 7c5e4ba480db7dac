package zmtp

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
)

// Endpoint is a parsed ZeroMQ endpoint.
type Endpoint struct {
	Transport string // "tcp" or "ipc"
	Address   string // host:port for tcp; a path, or "@name" for Linux abstract ipc
}

// String returns the endpoint in ZeroMQ form.
func (e Endpoint) String() string { return e.Transport + "://" + e.Address }

// network returns the Go network name.
func (e Endpoint) network() string {
	if e.Transport == "ipc" {
		return "unix"
	}
	return "tcp"
}

// ParseEndpoint parses tcp://host:port, tcp://*:port, ipc:///path,
// ipc://relative/path and ipc://@name (Linux abstract namespace).
func ParseEndpoint(s string) (Endpoint, error) {
	transport, addr, ok := strings.Cut(s, "://")
	if !ok || addr == "" {
		return Endpoint{}, fmt.Errorf("zmtp: endpoint %q: want transport://address (tcp://host:port or ipc://path)", s)
	}
	switch transport {
	case "tcp":
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return Endpoint{}, fmt.Errorf("zmtp: endpoint %q: %v", s, err)
		}
		if port == "" {
			return Endpoint{}, fmt.Errorf("zmtp: endpoint %q: missing port", s)
		}
		if host == "*" {
			host = ""
		}
		return Endpoint{Transport: "tcp", Address: net.JoinHostPort(host, port)}, nil
	case "ipc":
		return Endpoint{Transport: "ipc", Address: addr}, nil
	default:
		return Endpoint{}, fmt.Errorf("zmtp: endpoint %q: unsupported transport %q (tcp, ipc)", s, transport)
	}
}

// Listen binds an endpoint. For a filesystem ipc path, a stale socket file
// left by a previous process is removed first, as libzmq does.
func Listen(endpoint string) (net.Listener, error) {
	e, err := ParseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	if e.Transport == "ipc" && !strings.HasPrefix(e.Address, "@") {
		if fi, err := os.Stat(e.Address); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(e.Address)
		}
	}
	ln, err := net.Listen(e.network(), e.Address)
	if err != nil {
		return nil, fmt.Errorf("zmtp: bind %s: %w", endpoint, err)
	}
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(!strings.HasPrefix(e.Address, "@"))
	}
	return ln, nil
}

// Dial connects to an endpoint (without any ZMTP handshake).
func Dial(ctx context.Context, endpoint string) (net.Conn, error) {
	e, err := ParseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, e.network(), e.Address)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	return nc, nil
}

// EndpointOf returns the ZeroMQ endpoint of a bound listener, with the
// actual port for tcp://*:0 style binds.
func EndpointOf(ln net.Listener) string {
	switch a := ln.Addr().(type) {
	case *net.TCPAddr:
		return "tcp://" + a.String()
	case *net.UnixAddr:
		return "ipc://" + a.Name
	}
	return ln.Addr().String()
}
