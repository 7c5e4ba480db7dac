// Package cluster tests zccpd federation (package federation) against an
// embedded three-node NATS cluster (nats-server, in-process, routes on
// 127.0.0.1) with three brokers in the test process. It is its own module
// so that nats-server stays out of the product's dependencies.
package cluster
