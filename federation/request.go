package federation

import (
	"encoding/hex"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
)

// Group requests across brokers (broker/federation_group.go has the
// broker's side). Two subjects per broker, in the wire encoding of
// forwarded messages (wire.go; seq 0, not numbered):
//
//	<prefix>.fed.resolve.<id>  NATS request: frames [call id, frame 1 of
//	                           the command, content...]; the answer:
//	                           [status, recipient identifiers...], status
//	                           "ok" or the reason it was refused
//	<prefix>.fed.commit.<id>   [call id, recipient identifiers...]: send
//	                           the held call to these
//
// Single requests, replies, cancels and the brokers' error replies travel
// as DIRECTs (<prefix>.fed.direct.<id>, numbered, in order).

// groupStats count the group calls this broker made to others.
type groupStats struct {
	resolves, missed, refused, commits, held atomic.Uint64
}

// GroupStats are a node's group request counters.
type GroupStats struct {
	Resolves uint64 // resolve requests sent (one per remote broker per group call)
	Missed   uint64 // of those, not answered within ResolveWait: that broker was left out of the call
	Refused  uint64 // of those, answered with a refusal (e.g. too many calls held there)
	Commits  uint64 // commits sent
	Held     uint64 // resolve requests this broker answered with recipients (calls held here)
}

// GroupStats returns the node's group request counters.
func (n *Node) GroupStats() GroupStats {
	s := &n.groups
	return GroupStats{Resolves: s.resolves.Load(), Missed: s.missed.Load(), Refused: s.refused.Load(),
		Commits: s.commits.Load(), Held: s.held.Load()}
}

func (n *Node) resolveSubject(id string) string { return n.o.Prefix + ".fed.resolve." + id }
func (n *Node) commitSubject(id string) string  { return n.o.Prefix + ".fed.commit." + id }

// subscribeGroups subscribes this node's resolve and commit subjects.
func (n *Node) subscribeGroups() error {
	for _, s := range []struct {
		subj string
		cb   nats.MsgHandler
	}{{n.resolveSubject(n.id), n.onResolve}, {n.commitSubject(n.id), n.onCommit}} {
		sub, err := n.nc.Subscribe(s.subj, s.cb)
		if err != nil {
			return err
		}
		n.subs = append(n.subs, sub)
	}
	return nil
}

// Resolve implements broker.GroupFederation: one NATS request per remote
// broker, all at once, each waiting at most ResolveWait. Brokers that do
// not answer in time are left out (counted in GroupStats.Missed, logged).
func (n *Node) Resolve(remotes []string, call string, deliver []byte, content [][]byte) map[string][]string {
	frames := append([][]byte{deliver}, content...)
	data := appendMessage(make([]byte, 0, messageSize([]byte(call), frames)), n.idRaw, 0, []byte(call), frames)
	out := make(map[string][]string, len(remotes))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, r := range remotes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			names, ok := n.resolveOne(r, data)
			if ok {
				mu.Lock()
				out[r] = names
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

// resolveOne asks one remote broker; ok is false when it did not answer
// in time or refused.
func (n *Node) resolveOne(remote string, data []byte) ([]string, bool) {
	n.groups.resolves.Add(1)
	m, err := n.nc.Request(n.resolveSubject(remote), data, n.o.ResolveWait)
	if err != nil {
		n.groups.missed.Add(1)
		n.log.Warn("broker left out of a group request: no answer to resolve", "broker", remote, "wait", n.o.ResolveWait, "err", err)
		return nil, false
	}
	w, err := parseMessage(m.Data)
	if err != nil || string(w.deliver) != "ok" {
		n.groups.refused.Add(1)
		reason := string(w.deliver)
		if err != nil {
			reason = err.Error()
		}
		n.log.Warn("broker left out of a group request: resolve refused", "broker", remote, "reason", reason)
		return nil, false
	}
	names := make([]string, len(w.content))
	for i, c := range w.content {
		names[i] = string(c)
	}
	return names, true
}

// Commit implements broker.GroupFederation.
func (n *Node) Commit(remote, call string, recipients []string) error {
	frames := make([][]byte, len(recipients))
	for i, r := range recipients {
		frames[i] = []byte(r)
	}
	data := appendMessage(make([]byte, 0, messageSize([]byte(call), frames)), n.idRaw, 0, []byte(call), frames)
	if err := n.nc.Publish(n.commitSubject(remote), data); err != nil {
		return err
	}
	n.groups.commits.Add(1)
	return nil
}

// onResolve answers a resolve: the local recipients, for whom the broker
// holds the call.
func (n *Node) onResolve(m *nats.Msg) {
	w, err := parseMessage(m.Data)
	if err != nil || len(w.content) == 0 {
		n.stats.bad.Add(1)
		return
	}
	names, err := n.b.HoldGroup(hex.EncodeToString(w.origin[:]), string(w.deliver), w.content[0], w.content[1:])
	status := "ok"
	if err != nil {
		status, names = err.Error(), nil
	} else if len(names) > 0 {
		n.groups.held.Add(1)
	}
	frames := make([][]byte, len(names))
	for i, s := range names {
		frames[i] = []byte(s)
	}
	data := appendMessage(nil, n.idRaw, 0, []byte(status), frames)
	if err := m.Respond(data); err != nil {
		n.log.Warn("resolve not answered", "err", err)
	}
}

// onCommit sends a held call to the recipients its requester's broker
// tracks.
func (n *Node) onCommit(m *nats.Msg) {
	w, err := parseMessage(m.Data)
	if err != nil {
		n.stats.bad.Add(1)
		return
	}
	names := make([]string, len(w.content))
	for i, c := range w.content {
		names[i] = string(c)
	}
	if err := n.b.CommitGroup(hex.EncodeToString(w.origin[:]), string(w.deliver), names); err != nil {
		n.log.Warn("group commit", "err", strings.TrimPrefix(err.Error(), "broker: "))
	}
}
