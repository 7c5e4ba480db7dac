package rawpeer

import (
	"context"
	"fmt"
	"time"
)

// NextContext is Next bounded by ctx (through the connection's read
// deadline).
func (p *Peer) NextContext(ctx context.Context) (*Message, error) {
	if dl, ok := ctx.Deadline(); ok {
		p.nc.SetReadDeadline(dl)
		defer p.nc.SetReadDeadline(time.Time{})
	}
	return p.Next()
}

// await reads until a command with id want arrives; DELIVERs and other
// commands before it are skipped, INVALID is an error.
func (p *Peer) await(ctx context.Context, want byte) (*Message, error) {
	for {
		m, err := p.NextContext(ctx)
		if err != nil {
			return nil, err
		}
		if m.ID == want {
			return m, nil
		}
		if m.ID == Invalid {
			return nil, fmt.Errorf("rawpeer: INVALID while waiting for command %d", want)
		}
	}
}

// Hello sends HELLO and waits for HELLO-OK.
func (p *Peer) Hello(ctx context.Context, identifier string, hs ...Header) error {
	_, err := p.HelloProps(ctx, identifier, hs...)
	return err
}

// HelloProps is Hello returning HELLO-OK's headers (the broker's properties).
func (p *Peer) HelloProps(ctx context.Context, identifier string, hs ...Header) (map[string]string, error) {
	if err := p.Send(Frame1(Hello, []string{identifier}, true, hs)); err != nil {
		return nil, err
	}
	m, err := p.await(ctx, HelloOK)
	if err != nil {
		return nil, err
	}
	return m.Headers(), nil
}

// Subscribe sends SUBSCRIBE and waits for SUBSCRIBE-OK.
func (p *Peer) Subscribe(ctx context.Context, expression string, hs ...Header) error {
	if err := p.Send(Frame1(Subscribe, []string{expression}, true, hs)); err != nil {
		return err
	}
	_, err := p.await(ctx, SubscribeOK)
	return err
}

// Publish sends one PUBLISH (not confirmed by the protocol).
func (p *Peer) Publish(address string, hs []Header, content ...[]byte) error {
	return p.Write(AppendPublish(nil, address, hs, content...))
}

// Direct sends one DIRECT to the client with the given identifier.
func (p *Peer) Direct(to string, hs []Header, content ...[]byte) error {
	return p.Write(AppendDirect(nil, to, hs, content...))
}

// Goodbye sends GOODBYE and waits for GOODBYE-OK.
func (p *Peer) Goodbye(ctx context.Context) error {
	if err := p.Send(Frame1(Goodbye, nil, false, nil)); err != nil {
		return err
	}
	_, err := p.await(ctx, GoodbyeOK)
	return err
}

// PublishBurst writes n numbered PUBLISHes (see Burst) in chunks of about
// chunk bytes, each chunk in one write, so that the broker never sees a gap
// between messages. It returns the number of messages written.
func (p *Peer) PublishBurst(ctx context.Context, address string, first uint64, n, size, chunk int) (int, error) {
	per := max(1, chunk/(size+32))
	var buf []byte
	sent := 0
	for sent < n {
		if err := ctx.Err(); err != nil {
			return sent, err
		}
		k := min(per, n-sent)
		buf = Burst(buf[:0], address, first+uint64(sent), k, size)
		if err := p.Write(buf); err != nil {
			return sent, err
		}
		sent += k
	}
	return sent, nil
}
