package relay

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Environment variables that turn a re-executed binary into a relay child.
const (
	envChild    = "ZCCP_RELAY_CHILD"    // implementation to run
	envEndpoint = "ZCCP_RELAY_ENDPOINT" // endpoint to bind
	envProfile  = "ZCCP_RELAY_CPUPROFILE"
)

// ChildMain runs the relay child and exits if this process was started as
// one by [Run]; otherwise it returns at once. Call it first in main (or in
// TestMain, for benchmarks run by go test): Run re-executes the current
// binary.
//
// The child binds its endpoint, prints "ready <endpoint>", answers each
// "cpu" line on stdin with "cpu <user ns> <sys ns> <forwarded> <stalls>"
// and exits when stdin is closed.
func ChildMain() {
	impl := os.Getenv(envChild)
	if impl == "" {
		return
	}
	if err := runChild(Impl(impl), os.Getenv(envEndpoint), os.Getenv(envProfile), os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "relay child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// server is a running relay in the child.
type server interface {
	// Endpoint is the bound endpoint, with the actual port.
	Endpoint() string
	// Counters returns deliveries queued and stalls so far.
	Counters() (forwarded, stalls uint64)
	// Close stops the relay (it may leave the process to exit).
	Close()
}

func runChild(impl Impl, endpoint, profile string, in io.Reader, out io.Writer) error {
	var (
		srv server
		err error
	)
	switch impl {
	case Libzmq:
		srv, err = startLibzmq(endpoint)
	case Native:
		srv, err = startNative(endpoint)
	default:
		err = fmt.Errorf("unknown implementation %q", impl)
	}
	if err != nil {
		return err
	}
	defer srv.Close()
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	w := bufio.NewWriter(out)
	fmt.Fprintf(w, "ready %s\n", srv.Endpoint())
	if err := w.Flush(); err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if sc.Text() != "cpu" {
			return fmt.Errorf("unknown command %q", sc.Text())
		}
		user, sys := selfCPU()
		fwd, stalls := srv.Counters()
		fmt.Fprintf(w, "cpu %d %d %d %d\n", user.Nanoseconds(), sys.Nanoseconds(), fwd, stalls)
		if err := w.Flush(); err != nil {
			return err
		}
	}
	return sc.Err()
}

// selfCPU returns this process's user and system CPU time (all threads,
// libzmq's I/O threads included).
func selfCPU() (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// child is the parent's handle on a relay child process.
type child struct {
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	stdout   *bufio.Reader
	endpoint string
}

// cpuSample is one answer to "cpu".
type cpuSample struct {
	user, sys         time.Duration
	forwarded, stalls uint64
}

// startChild re-executes this binary as a relay child and waits for it to
// be ready. ctx bounds the child's life: it is killed when ctx ends.
func startChild(ctx context.Context, cfg Config, endpoint string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), envChild+"="+string(cfg.Impl), envEndpoint+"="+endpoint)
	if cfg.CPUProfile != "" {
		cmd.Env = append(cmd.Env, envProfile+"="+cfg.CPUProfile)
	}
	cmd.Stderr = os.Stderr
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, stdin: stdin, stdout: bufio.NewReader(stdout)}
	line, err := c.stdout.ReadString('\n')
	ep, ok := strings.CutPrefix(strings.TrimSpace(line), "ready ")
	if err != nil || !ok {
		c.stop()
		return nil, fmt.Errorf("relay child did not start: %q %v", line, err)
	}
	c.endpoint = ep
	return c, nil
}

// cpu asks the child for its CPU time and counters.
func (c *child) cpu() (cpuSample, error) {
	if _, err := io.WriteString(c.stdin, "cpu\n"); err != nil {
		return cpuSample{}, err
	}
	line, err := c.stdout.ReadString('\n')
	if err != nil {
		return cpuSample{}, fmt.Errorf("relay child: %w", err)
	}
	f := strings.Fields(line)
	if len(f) != 5 || f[0] != "cpu" {
		return cpuSample{}, fmt.Errorf("relay child: bad answer %q", line)
	}
	var n [4]uint64
	for i := range n {
		if n[i], err = strconv.ParseUint(f[i+1], 10, 64); err != nil {
			return cpuSample{}, fmt.Errorf("relay child: bad answer %q", line)
		}
	}
	return cpuSample{time.Duration(n[0]), time.Duration(n[1]), n[2], n[3]}, nil
}

// stop closes the child's stdin and waits for it to exit (it is killed
// when the run's context ends first).
func (c *child) stop() error {
	c.stdin.Close()
	err := c.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("relay child: %v", ee)
	}
	return err
}
