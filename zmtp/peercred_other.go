//go:build !linux

package zmtp

// PeerCred identifies the process at the other end of a unix-socket
// (ipc) connection (SO_PEERCRED, Linux only).
type PeerCred struct {
	PID int
	UID int
	GID int
}

// PeerCred is not available off Linux: ok is always false.
func (c *Conn) PeerCred() (cred PeerCred, ok bool) { return cred, false }
