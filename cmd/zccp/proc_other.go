//go:build !unix

package main

import "os/exec"

// prepareCommand: without process groups, ending cmd kills the process
// itself; its output is waited for at most killDelay more.
func prepareCommand(cmd *exec.Cmd) (waited func()) {
	cmd.WaitDelay = killDelay
	return func() {}
}
