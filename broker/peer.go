package broker

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/zmtp"
)

// peer is one client connection. Its reader goroutine (serveConn) owns
// sess, pending and scratch; the ticker goroutine owns live; cur mirrors
// sess for other goroutines.
type peer struct {
	b    *Broker
	conn *zmtp.Conn
	out  *zmtp.Outbox
	fx   effects // what the handlers do to the world (effects.go)
	num  uint64

	sess           *session                // the live session, nil before HELLO and after it ends
	cur            atomic.Pointer[session] // sess, for the ticker and other readers
	noSess         atomic.Int64            // unix ns since when the connection has had no session (0: it has one)
	pending        []*zmtp.Outbox          // outboxes made non-empty since the last flush
	stalled        []*zmtp.Outbox          // outboxes past their high-water mark since the last stall
	unflushedMsgs  int                     // messages handled since the last flush
	unflushedBytes int                     // their bytes
	stallTimer     *time.Timer             // bounds one stall; reused

	live liveness // ticker goroutine only

	// Counters written by the reader only (see inc), read by Stats.
	published  atomic.Uint64 // PUBLISH routed
	deliveries atomic.Uint64 // DELIVERs queued for them
}

// inc adds one to a counter that only one goroutine writes: a plain
// load and store, no locked instruction on the hot path; other goroutines
// may read it at any time.
func inc(c *atomic.Uint64) { c.Store(c.Load() + 1) }

// serveConn is the zmtp.Server handler: the connection's reader loop.
func (b *Broker) serveConn(c *zmtp.Conn, _ zmtp.RoutingID) {
	p := &peer{b: b, conn: c, out: c.Outbox(), num: b.nextPeer.Add(1)}
	p.fx = sockEffects{p}
	p.noSess.Store(p.fx.now().UnixNano())
	p.live = liveness{interval: b.cfg.PingInterval, timeout: b.cfg.Timeout}
	p.out.SetExpireHandler(b.onExpired)
	b.stats.connections.Add(1)
	b.mu.Lock()
	b.peers[p] = struct{}{}
	b.mu.Unlock()
	b.log.Debug("connected", "peer", p.num, "remote", addrString(c.RemoteAddr()), "zmtp", c.VersionString())

	why := p.readLoop()

	// The session ends before the connection leaves the table, so a Stats
	// snapshot never counts a closed connection's session without it.
	p.step(input{kind: inClosed, reason: why})
	b.mu.Lock()
	delete(b.peers, p)
	b.retired.published += p.published.Load()
	b.retired.deliveries += p.deliveries.Load()
	b.retired.dropped += p.out.Dropped()
	b.bytes.retire(c)
	b.mu.Unlock()
	b.log.Debug("disconnected", "peer", p.num, "reason", why.String(), "err", c.Err())
}

// readLoop reads and handles commands until the connection ends.
func (p *peer) readLoop() CloseReason {
	for {
		frames, err := p.conn.ReadMessage()
		if err != nil {
			if errors.Is(err, zmtp.ErrTooLarge) {
				p.step(input{kind: inTooLarge, err: err})
				p.flush()
				continue
			}
			p.flush()
			if errors.Is(err, zmtp.ErrSlowConsumer) {
				return ReasonSlowConsumer
			}
			return ReasonDisconnected
		}
		p.step(input{kind: inMessage, frames: frames})
		p.unflushedMsgs++
		for _, f := range frames {
			p.unflushedBytes += len(f)
		}
		p.maybeFlush()
	}
}

// session returns the live session, dropping it if another goroutine
// ended it (takeover, expiry).
func (p *peer) session() *session {
	if s := p.sess; s != nil && s.ended.Load() {
		p.setSession(nil)
	}
	return p.sess
}

func (p *peer) setSession(s *session) {
	p.sess = s
	p.cur.Store(s)
	if s == nil {
		p.noSess.Store(p.fx.now().UnixNano())
	} else {
		p.noSess.Store(0)
	}
}

// handle processes one incoming message (frame 1 = command, rest = content).
func (p *peer) handle(frames [][]byte) {
	v, err := codec.Parse(frames[0])
	if err == nil && len(frames) > 1 && !v.ID.HasContent() {
		err = &codec.Error{Cmd: v.ID, Field: "content", Offset: -1, Kind: codec.KindUnexpectedContent,
			Reason: "content frames after a command that has none"}
	}
	if err != nil {
		p.b.stats.malformed.Add(1)
		p.b.log.Debug("malformed command", "peer", p.num, "err", err)
		p.notice(codec.ErrCodeMalformed, err.Error(), "", "")
		p.invalid()
		return
	}
	sess := p.session()
	switch nextAction(sess != nil, v.ID) {
	case actHello:
		p.hello(v)
	case actSubscribe:
		p.subscribe(sess, v)
	case actPublish:
		p.publish(sess, v, frames[1:])
	case actDirect:
		p.direct(sess, v, frames[1:])
	case actGoodbye:
		p.goodbye(sess)
	case actPing:
		p.reply(codec.Message{ID: codec.PingOK})
	case actPingOK:
		// Liveness is refreshed by the read itself.
	case actInvalid:
		// A second HELLO gets a bare INVALID, exactly as the original
		// broker answered it (its clients re-HELLO on a presence timeout);
		// other out-of-sequence commands get a notice saying why first.
		if sess != nil && v.ID != codec.Hello {
			p.notice(codec.ErrCodeBadSequence, v.ID.String()+" is not allowed in an open session", v.ID.String(), "")
		}
		p.invalid()
	}
}

// invalid answers INVALID and forgets the session, as the original
// broker does; the client recovers by sending HELLO again.
func (p *peer) invalid() {
	p.b.stats.invalid.Add(1)
	if s := p.sess; s != nil {
		p.b.endSession(s, ReasonInvalid)
		p.setSession(nil)
	}
	p.reply(codec.Message{ID: codec.Invalid})
}

// reply queues a broker command to this connection (never dropped; a
// client whose queue is full of undroppable messages is cut off).
func (p *peer) reply(m codec.Message) {
	if !p.fx.reply(m) {
		return
	}
	if s := p.sess; s != nil && m.ID == codec.Deliver {
		s.deliveries.Add(1) // a notice, an error reply, a receipt
	}
}

// tick runs the liveness machine at now: it asks for a PING or ends an
// expired connection (and its session). Called by step, from the ticker
// goroutine (or the test driving the clock) only.
func (p *peer) tick(now time.Time) {
	s := p.cur.Load()
	hasSession := s != nil && !s.ended.Load()
	lastRecv := p.fx.lastReceived()
	sessionless := now
	if ns := p.noSess.Load(); ns != 0 {
		sessionless = time.Unix(0, ns)
	} else if !hasSession {
		// Ended from elsewhere (takeover, expiry) before the reader noticed.
		sessionless = time.Unix(0, lastRecv.UnixNano())
	}
	var heartbeat time.Duration
	if hasSession {
		heartbeat = s.heartbeat
	}
	switch p.live.tick(now, lastRecv, p.fx.lastSent(), sessionless, hasSession, heartbeat) {
	case beatPing:
		p.fx.ping()
	case beatExpire:
		p.b.stats.expired.Add(1)
		p.b.log.Info("expired", "peer", p.num, "identifier", identOf(s),
			"silent", now.Sub(lastRecv).Round(time.Millisecond).String())
		if s != nil {
			p.b.endSession(s, ReasonExpired)
		}
		p.fx.close(ReasonExpired)
	}
}

func identOf(s *session) string {
	if s == nil {
		return ""
	}
	return s.ident
}
