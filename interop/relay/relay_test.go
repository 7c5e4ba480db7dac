package relay

import (
	"bufio"
	"io"
	"strings"
	"testing"
	"time"
)

// TestChildProtocol runs each relay's child side in-process: it reports
// ready with a real endpoint, answers "cpu", and returns when its input
// is closed.
func TestChildProtocol(t *testing.T) {
	for _, impl := range []Impl{Libzmq, Native} {
		t.Run(string(impl), func(t *testing.T) {
			inR, inW := io.Pipe()
			outR, outW := io.Pipe()
			done := make(chan error, 1)
			go func() {
				err := runChild(impl, "tcp://127.0.0.1:0", "", inR, outW)
				outW.Close()
				done <- err
			}()
			out := bufio.NewReader(outR)
			line, err := out.ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "ready tcp://127.0.0.1:") {
				t.Fatalf("first line %q, %v", line, err)
			}
			io.WriteString(inW, "cpu\n")
			line, err = out.ReadString('\n')
			if err != nil || len(strings.Fields(line)) != 5 {
				t.Fatalf("cpu answer %q, %v", line, err)
			}
			inW.Close()
			go io.Copy(io.Discard, out)
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("child did not stop")
			}
		})
	}
}

// TestConfigDefaults checks the defaults and the refusals.
func TestConfigDefaults(t *testing.T) {
	c, err := Config{Impl: Native, Messages: 10}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Subscribers != 1 || c.Transport != "tcp" || c.MessageSize != 100 || c.Window != DefaultWindow || c.Warmup != 10_000 {
		t.Fatalf("defaults %+v", c)
	}
	for _, bad := range []Config{
		{Impl: "x", Messages: 1},
		{Impl: Native},
		{Impl: Native, Messages: 1, MessageSize: 4},
		{Impl: Native, Messages: 1, Transport: "udp"},
	} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
