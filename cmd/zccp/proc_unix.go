//go:build unix

package main

import (
	"errors"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// prepareCommand runs cmd in a process group of its own, so that ending
// it (cmd's context done) reaches whatever it started too: SIGTERM to the
// group, SIGKILL killDelay later if it is still running. Call the
// returned function once cmd has been waited for.
func prepareCommand(cmd *exec.Cmd) (waited func()) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var mu sync.Mutex
	var timer *time.Timer
	done := false
	cmd.Cancel = func() error {
		pid := cmd.Process.Pid
		mu.Lock()
		defer mu.Unlock()
		if !done && timer == nil {
			timer = time.AfterFunc(killDelay, func() {
				mu.Lock()
				defer mu.Unlock()
				if !done {
					syscall.Kill(-pid, syscall.SIGKILL)
				}
			})
		}
		if err := syscall.Kill(-pid, syscall.SIGTERM); err != nil {
			if errors.Is(err, syscall.ESRCH) {
				return os.ErrProcessDone
			}
			return err
		}
		return nil
	}
	// After the SIGKILL, stop waiting for output from stragglers.
	cmd.WaitDelay = killDelay + time.Second
	return func() {
		mu.Lock()
		done = true
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
	}
}
