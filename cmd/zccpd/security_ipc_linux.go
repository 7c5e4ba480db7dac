package main

import (
	"errors"
	"net"
	"slices"
	"syscall"

	"github.com/zccp-go/zccp/zmtp"
)

// uidListener accepts only unix connections whose peer process runs as
// one of the allowed user ids (SO_PEERCRED); others are closed at once
// with a rate-limited warning.
type uidListener struct {
	net.Listener
	allow []uint32
	log   *rateLog
}

func (l *uidListener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		cred, err := peerCred(nc)
		if err == nil && slices.Contains(l.allow, cred.Uid) {
			return nc, nil
		}
		if err != nil {
			l.log.warn("ipc connection refused: peer credentials unknown", "endpoint", zmtp.EndpointOf(l.Listener), "err", err)
		} else {
			l.log.warn("ipc connection refused: user not allowed (--ipc-allow-uid)", "endpoint", zmtp.EndpointOf(l.Listener), "uid", cred.Uid, "pid", cred.Pid)
		}
		nc.Close()
	}
}

// peerCred returns the credentials of the process at the other end of a
// unix connection.
func peerCred(nc net.Conn) (*syscall.Ucred, error) {
	uc, ok := zmtp.Unwrap(nc).(*net.UnixConn)
	if !ok {
		return nil, errors.New("not a unix connection")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	return cred, cerr
}
