// Package natscluster starts nats-server nodes in this process, routed to
// each other on 127.0.0.1 with ports chosen by the system: the NATS
// cluster of the federation tests and of make run-cluster.
package natscluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Start starts n routed nodes and waits, bounded by ctx, until a message
// published on any node reaches a subscriber on every other one. On
// error the nodes started are shut down.
func Start(ctx context.Context, n int) ([]*server.Server, error) {
	// The cluster ports are picked free, then closed and handed to the
	// nodes: another program may take one meanwhile (a node then never
	// gets ready). Try again with other ports.
	var err error
	for range 3 {
		var nodes []*server.Server
		if nodes, err = start(ctx, n); err == nil || ctx.Err() != nil {
			return nodes, err
		}
	}
	return nil, err
}

func start(ctx context.Context, n int) ([]*server.Server, error) {
	var nodes []*server.Server
	fail := func(err error) ([]*server.Server, error) {
		Stop(nodes)
		return nil, err
	}
	// Cluster ports are chosen first so that every node can route to all
	// the others from the start: a JetStream node is not ready for
	// clients until it has peers, so the nodes must start together.
	ports, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	for i := range n {
		dir, err := os.MkdirTemp("", "zccp-nats-js-")
		if err != nil {
			return fail(err)
		}
		// JetStream (the federation's identity registry) in a temporary
		// directory, removed by Stop; small limits, this is a test cluster.
		o := &server.Options{
			ServerName: fmt.Sprintf("n%d", i), Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
			Cluster:   server.ClusterOpts{Name: "zccp", Host: "127.0.0.1", Port: ports[i]},
			JetStream: true, StoreDir: dir, JetStreamMaxMemory: 64 << 20, JetStreamMaxStore: 256 << 20,
		}
		var routes []string
		for j, p := range ports {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
			}
		}
		o.Routes = server.RoutesFromStr(strings.Join(routes, ","))
		s, err := server.NewServer(o)
		if err != nil {
			os.RemoveAll(dir)
			return fail(err)
		}
		go s.Start()
		nodes = append(nodes, s)
		options.Store(s, o)
	}
	for i, s := range nodes {
		if !s.ReadyForConnections(10 * time.Second) {
			return fail(fmt.Errorf("nats node %d not ready", i))
		}
		if v, ok := options.Load(s); ok {
			v.(*server.Options).Port = s.Addr().(*net.TCPAddr).Port // for Restart
		}
	}
	for _, from := range nodes {
		for _, to := range nodes {
			if from == to {
				continue
			}
			if err := waitRoute(ctx, from, to); err != nil {
				return fail(err)
			}
		}
	}
	if err := waitJetStream(ctx, nodes[0]); err != nil {
		return fail(err)
	}
	return nodes, nil
}

// Stop shuts the nodes down, waits for them and removes their JetStream
// directories.
func Stop(nodes []*server.Server) {
	for _, s := range nodes {
		var dir string // the temporary directory Start made (StoreDir is its jetstream subdirectory)
		if v, ok := options.Load(s); ok {
			dir = v.(*server.Options).StoreDir
		}
		s.Shutdown()
		s.WaitForShutdown()
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
}

// freePorts returns n TCP ports free on 127.0.0.1 now (closed again: a
// race with other programs is possible, and would fail Start).
func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// waitJetStream waits until the cluster's JetStream answers (it has
// elected a meta leader).
func waitJetStream(ctx context.Context, s *server.Server) error {
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	for {
		actx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := js.AccountInfo(actx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("JetStream not ready: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitRoute publishes on from until a subscriber on to receives.
func waitRoute(ctx context.Context, from, to *server.Server) error {
	pub, err := nats.Connect(from.ClientURL())
	if err != nil {
		return err
	}
	defer pub.Close()
	sub, err := nats.Connect(to.ClientURL())
	if err != nil {
		return err
	}
	defer sub.Close()
	s, err := sub.SubscribeSync("probe")
	if err != nil {
		return err
	}
	if err := sub.Flush(); err != nil {
		return err
	}
	for ctx.Err() == nil {
		pub.Publish("probe", nil)
		if _, err := s.NextMsg(50 * time.Millisecond); err == nil {
			return nil
		}
	}
	return fmt.Errorf("no route from %s to %s: %w", from.Name(), to.Name(), ctx.Err())
}

// options holds each started node's options, for Restart.
var options sync.Map // *server.Server -> *server.Options

// Shutdown stops node s as a crash or a cut cable would look to its
// clients, keeping its JetStream directory for Restart.
func Shutdown(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
}

// Restart starts node s again (after Shutdown) on the same client and
// route ports with the same JetStream directory, and waits until it is
// ready. The caller stops the new node (Stop) as well as the old set.
func Restart(s *server.Server) (*server.Server, error) {
	v, ok := options.Load(s)
	if !ok {
		return nil, fmt.Errorf("natscluster: %s was not started by Start", s.Name())
	}
	o := *v.(*server.Options) // Port: the one it had
	Shutdown(s)
	n, err := server.NewServer(&o)
	if err != nil {
		return nil, err
	}
	go n.Start()
	if !n.ReadyForConnections(10 * time.Second) {
		n.Shutdown()
		return nil, fmt.Errorf("natscluster: %s not ready after restart", s.Name())
	}
	options.Store(n, &o)
	return n, nil
}
