package procstat

import (
	"os"
	"testing"
	"time"
)

func TestSelfMeasures(t *testing.T) {
	pid := os.Getpid()
	end := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(end) { // burn some CPU
	}
	cpu, err := CPU(pid)
	if err != nil || cpu <= 0 {
		t.Fatalf("CPU(self) = %v, %v", cpu, err)
	}
	if self := SelfCPU(); self < cpu-20*time.Millisecond {
		t.Errorf("SelfCPU %v < /proc CPU %v", self, cpu)
	}
	if rss, err := RSS(pid); err != nil || rss < 1<<20 {
		t.Errorf("RSS(self) = %d, %v", rss, err)
	}
	if b, err := MachineBusy(); err != nil || b < cpu {
		t.Errorf("MachineBusy = %v, %v (self used %v)", b, err, cpu)
	}
	if _, err := CPU(1 << 30); err == nil {
		t.Error("CPU of a missing pid: no error")
	}
}
