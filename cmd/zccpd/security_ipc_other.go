//go:build !linux

package main

import (
	"errors"
	"net"
)

// uidListener refuses every connection off Linux: SO_PEERCRED is not
// available, and --ipc-allow-uid must not silently allow everyone.
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
		l.log.warn("ipc connection refused: --ipc-allow-uid needs SO_PEERCRED (Linux)", "err", errors.ErrUnsupported)
		nc.Close()
	}
}
