// Package natscluster starts nats-server nodes in this process, routed to
// each other on 127.0.0.1 with ports chosen by the system: the NATS
// cluster of the federation tests and of make run-cluster.
package natscluster

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Start starts n routed nodes and waits, bounded by ctx, until a message
// published on any node reaches a subscriber on every other one. On
// error the nodes started are shut down.
func Start(ctx context.Context, n int) ([]*server.Server, error) {
	var nodes []*server.Server
	fail := func(err error) ([]*server.Server, error) {
		Stop(nodes)
		return nil, err
	}
	for i := range n {
		o := &server.Options{
			ServerName: fmt.Sprintf("n%d", i), Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
			Cluster: server.ClusterOpts{Name: "zccp", Host: "127.0.0.1", Port: -1},
		}
		if i > 0 {
			o.Routes = server.RoutesFromStr(fmt.Sprintf("nats://%s", nodes[0].ClusterAddr()))
		}
		s, err := server.NewServer(o)
		if err != nil {
			return fail(err)
		}
		go s.Start()
		if !s.ReadyForConnections(10 * time.Second) {
			return fail(fmt.Errorf("nats node %d not ready", i))
		}
		nodes = append(nodes, s)
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
	return nodes, nil
}

// Stop shuts the nodes down and waits for them.
func Stop(nodes []*server.Server) {
	for _, s := range nodes {
		s.Shutdown()
		s.WaitForShutdown()
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
