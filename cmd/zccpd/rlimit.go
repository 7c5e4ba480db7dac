package main

import "syscall"

// raiseFdLimit raises the soft limit on open descriptors to the hard
// limit (one descriptor per client connection) and returns the limit in
// force afterwards. Failure leaves the soft limit as it was.
func raiseFdLimit() (soft uint64, err error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	if rl.Cur < rl.Max {
		want := rl
		want.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			return rl.Cur, err
		}
		rl = want
	}
	return rl.Cur, nil
}

// fdLimit raises the descriptor limit (once) and returns it; 0 if unknown.
func fdLimit() uint64 {
	n, _ := raiseFdLimit()
	return n
}
