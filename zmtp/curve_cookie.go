package zmtp

import (
	"io"
	"sync"
	"time"

	"golang.org/x/crypto/nacl/secretbox"
)

// CookieRotation is how often a CurveServer replaces its cookie key. A
// cookie made with the previous key is still accepted, so a handshake
// has between one and two periods to complete.
const CookieRotation = 60 * time.Second

// cookieKeys is the rotating secretbox key of a CurveServer's cookies.
type cookieKeys struct {
	mu       sync.Mutex
	cur      [32]byte
	prev     [32]byte
	hasPrev  bool
	rotated  time.Time
	now      func() time.Time
	rand     io.Reader
	interval time.Duration
}

// keys returns the current and (if any) previous key, rotating first if
// the current one is older than the interval.
func (k *cookieKeys) keys() (cur, prev [32]byte, hasPrev bool, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	if k.rotated.IsZero() || now.Sub(k.rotated) >= k.interval {
		b, err := randomBytes(k.rand, 32)
		if err != nil {
			return cur, prev, false, err
		}
		// After a long idle period the previous key is stale too.
		k.prev, k.hasPrev = k.cur, !k.rotated.IsZero() && now.Sub(k.rotated) < 2*k.interval
		k.cur, k.rotated = [32]byte(b), now
	}
	return k.cur, k.prev, k.hasPrev, nil
}

// seal makes a cookie: nonce ‖ secretbox(plain) under the current key.
func (k *cookieKeys) seal(nonce, plain []byte) ([]byte, error) {
	cur, _, _, err := k.keys()
	if err != nil {
		return nil, err
	}
	c := append(make([]byte, 0, curveCookieSize), nonce...)
	return secretbox.Seal(c, plain, longNonce(noncePrefixCookie, nonce), &cur), nil
}

// open opens a cookie made with the current or the previous key.
func (k *cookieKeys) open(cookie []byte) ([]byte, bool) {
	cur, prev, hasPrev, err := k.keys()
	if err != nil || len(cookie) != curveCookieSize {
		return nil, false
	}
	nonce := longNonce(noncePrefixCookie, cookie[:16])
	if p, ok := secretbox.Open(nil, cookie[16:], nonce, &cur); ok {
		return p, true
	}
	if !hasPrev {
		return nil, false
	}
	return secretbox.Open(nil, cookie[16:], nonce, &prev)
}
