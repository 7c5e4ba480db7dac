// Package procstat reads the CPU time and resident memory of processes
// from /proc (Linux only), and the CPU time of the calling process.
package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// clockTick is the unit of utime and stime in /proc/<pid>/stat (USER_HZ).
// It is 100 on every Linux architecture Go supports; reading it would
// need sysconf(_SC_CLK_TCK), i.e. cgo.
const clockTick = 10 * time.Millisecond

// CPU returns the user plus system CPU time consumed so far by process
// pid (all its threads), from fields 14 and 15 of /proc/<pid>/stat. Its
// resolution is one clock tick (10 ms).
func CPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may contain
	// spaces: count fields from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("procstat: /proc/%d/stat: no ')'", pid)
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("procstat: /proc/%d/stat: %d fields", pid, len(f)+2)
	}
	ut, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	st, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("procstat: /proc/%d/stat: bad utime/stime %q %q", pid, f[11], f[12])
	}
	return time.Duration(ut+st) * clockTick, nil
}

// RSS returns the resident set size of process pid in bytes (VmRSS of
// /proc/<pid>/status).
func RSS(pid int) (int64, error) { return statusBytes(pid, "VmRSS:") }

// HWM returns the peak resident set size of process pid in bytes (VmHWM
// of /proc/<pid>/status).
func HWM(pid int) (int64, error) { return statusBytes(pid, "VmHWM:") }

func statusBytes(pid int, key string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		v, ok := bytes.CutPrefix(line, []byte(key))
		if !ok {
			continue
		}
		f := bytes.Fields(v)
		if len(f) < 1 {
			break
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("procstat: %s %q: %v", key, v, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("procstat: /proc/%d/status: no %s", pid, key)
}

// SelfCPU returns the user plus system CPU time consumed so far by the
// calling process (getrusage RUSAGE_SELF, microsecond resolution).
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// RaiseFileLimit raises the soft limit on open files to the hard limit
// and returns the new soft limit. Child processes inherit it (brokers
// serving ten thousand connections need it).
func RaiseFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	return l.Cur, nil
}

// MachineBusy returns the CPU time all processors have spent busy
// (everything but idle and iowait) since boot, from /proc/stat. Its
// difference over a window, minus the broker's and the bench's own CPU,
// is what other processes used: a run that shared the machine.
func MachineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	f := bytes.Fields(line)
	if len(f) < 5 || string(f[0]) != "cpu" {
		return 0, fmt.Errorf("procstat: /proc/stat: unexpected first line %q", line)
	}
	var busy uint64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is already in user
			continue
		}
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("procstat: /proc/stat: %q", v)
		}
		busy += n
	}
	return time.Duration(busy) * clockTick, nil
}
