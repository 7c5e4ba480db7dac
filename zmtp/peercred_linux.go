package zmtp

import (
	"net"
	"syscall"
)

// PeerCred identifies the process at the other end of a unix-socket
// (ipc) connection, as the kernel reports it (SO_PEERCRED).
type PeerCred struct {
	PID int
	UID int
	GID int
}

// PeerCred returns the credentials of the peer process of an ipc
// connection; ok is false for other transports.
func (c *Conn) PeerCred() (cred PeerCred, ok bool) {
	uc, isUnix := Unwrap(c.nc).(*net.UnixConn)
	if !isUnix {
		return cred, false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return cred, false
	}
	var uc2 *syscall.Ucred
	var uerr error
	if err := raw.Control(func(fd uintptr) {
		uc2, uerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil || uerr != nil {
		return cred, false
	}
	return PeerCred{PID: int(uc2.Pid), UID: int(uc2.Uid), GID: int(uc2.Gid)}, true
}
