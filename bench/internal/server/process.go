// Package server builds, configures, starts and stops the brokers under
// test, each as its own process listening on 127.0.0.1 only.
package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/zccp-go/zccp/bench/internal/procstat"
)

// Process is a running broker.
type Process struct {
	Name    string // broker name
	Addr    string // host:port it listens on
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	waitErr error
}

// PID returns the broker's process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// CPU returns the CPU time the broker has used so far.
func (p *Process) CPU() (time.Duration, error) { return procstat.CPU(p.PID()) }

// RSS returns the broker's resident memory in bytes.
func (p *Process) RSS() (int64, error) { return procstat.RSS(p.PID()) }

// Alive reports whether the process is still running.
func (p *Process) Alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Stop sends SIGTERM, waits up to timeout for the process to exit (a
// profiling zccpd writes its profiles then), and kills it after that.
func (p *Process) Stop(timeout time.Duration) error {
	if !p.Alive() {
		return fmt.Errorf("%s had already exited: %v; log %s", p.Name, p.waitErr, p.logPath)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not stop within %v; killed", p.Name, timeout)
	}
}

// Signal sends the broker a signal.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// LogTail returns the end of the broker's log file.
func (p *Process) LogTail() string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}

// start runs bin with args, its output to logPath, and waits until addr
// accepts TCP connections.
func start(ctx context.Context, name, addr, logPath, bin string, args ...string) (*Process, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the bench
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Process{Name: name, Addr: addr, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		lf.Close()
		close(p.exited)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return p, nil
		}
		if !p.Alive() {
			return nil, fmt.Errorf("%s exited at start (%v): %s", name, p.waitErr, p.LogTail())
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.Stop(time.Second)
			return nil, errors.Join(fmt.Errorf("%s not listening on %s after 10 s", name, addr), ctx.Err())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
