// Command zccp-cluster runs a local federation for trying it out (make
// run-cluster): three nats-server nodes in this process, routed on
// 127.0.0.1, and three zccpd processes joined to them, A, B and C, on
// tcp://127.0.0.1:<port>, <port>+1, <port>+2 and ipc://@/zccp-a, -b, -c.
// Ctrl-C stops everything.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/zccp-go/zccp/cluster/natscluster"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "zccp-cluster:", err)
		os.Exit(1)
	}
}

func run() error {
	bin := flag.String("zccpd", "bin/zccpd", "the zccpd binary")
	port := flag.Int("port", 7881, "tcp port of broker A; B and C take the next two")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	nodes, err := natscluster.Start(sctx, 3)
	cancel()
	if err != nil {
		return err
	}
	defer natscluster.Stop(nodes)
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Signal(syscall.SIGTERM)
			p.Wait()
		}
	}()
	for i, name := range []string{"A", "B", "C"} {
		tcp := fmt.Sprintf("tcp://127.0.0.1:%d", *port+i)
		ipc := "ipc://@/zccp-" + strings.ToLower(name)
		cmd := exec.Command(*bin, "--bind", tcp, "--bind", ipc, "--name", name, "--cluster", nodes[i].ClientURL())
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
		if err := cmd.Start(); err != nil {
			return err
		}
		procs = append(procs, cmd)
		fmt.Printf("broker %s: %s %s (NATS %s)\n", name, tcp, ipc, nodes[i].ClientURL())
	}
	fmt.Printf("try: zccp sub --endpoint ipc://@/zccp-b '^rack' & zccp pub --endpoint ipc://@/zccp-a rack.1 hello\nCtrl-C stops.\n")
	<-ctx.Done()
	return nil
}
