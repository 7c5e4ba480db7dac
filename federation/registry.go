package federation

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// registry is the cluster-wide identity registry: identifier → the broker
// whose session holds it, in a JetStream key-value bucket (<prefix>_idents,
// one key per identifier, history 1, entries expiring after
// Options.RegistryTTL unless their broker refreshes them).
//
// The bucket's stream orders every write, and every broker watches it, so
// all brokers see the claims of an identifier in one order: the last
// claim wins. A HELLO is a Put (the newest session wins, as on one
// broker); a broker that sees, in the watch, a claim newer than its own
// for an identifier one of its sessions holds ends that session with
// taken-over. A session's end deletes its key only if the key is still its
// claim (compare-and-set on the revision); a refresh is an Update on the
// revision this broker wrote (compare-and-set), so neither can undo a
// newer claim made elsewhere.
//
// Lookups never wait on the bucket: the watch keeps a local cache, whose
// entries for live brokers (known from their adverts) are handed to the
// broker (ChangeRemoteIdentifiers), where peer.direct finds them.
type registry struct {
	n   *Node
	kv  jetstream.KeyValue
	ttl time.Duration

	mu       sync.Mutex
	cache    map[string]regCached           // ident → latest entry seen; guarded by mu
	byBroker map[string]map[string]struct{} // broker id → identifiers the cache gives it; guarded by mu
	live     map[string]bool                // brokers known alive (adverts); guarded by mu
	mine     map[string]regClaim            // identifiers this broker wrote; guarded by mu

	qmu     sync.Mutex
	pending map[string]regOp // per identifier, the latest local change not yet written; guarded by qmu
	wake    chan struct{}

	watcher jetstream.KeyWatcher
	stats   struct{ claims, releases, refreshes, takeovers, errors uint64 } // guarded by mu
	stop    chan struct{}
	ctx     context.Context // writes; cancelled by close
	cancel  context.CancelFunc
	once    sync.Once
	done    sync.WaitGroup
}

// regValue is a registry entry as stored (JSON).
type regValue struct {
	Broker  string `json:"b"` // broker id
	Name    string `json:"n"` // broker name
	Session uint64 `json:"s"` // session number on that broker
	Since   int64  `json:"t"` // HELLO time, unix ms
}

type regCached struct {
	v   regValue
	rev uint64
	at  time.Time // when this broker saw it
}

type regClaim struct {
	session uint64
	since   time.Time
	rev     uint64
}

// regOp is a local change waiting to be written: a claim (HELLO) or a
// release (session end) of session.
type regOp struct {
	claim   bool
	session uint64
	since   time.Time
}

// bucketName is the registry's bucket for a subject prefix.
func bucketName(prefix string) string { return strings.ReplaceAll(prefix, ".", "_") + "_idents" }

// startRegistry creates (or opens) the bucket, loads it into the cache
// and starts watching it. It fails when JetStream is not available.
func startRegistry(ctx context.Context, n *Node) (*registry, error) {
	js, err := jetstream.New(n.nc)
	if err != nil {
		return nil, err
	}
	cfg := jetstream.KeyValueConfig{
		Bucket: bucketName(n.o.Prefix), Description: "zccp federation: identifier -> broker",
		History: 1, TTL: n.o.RegistryTTL, Replicas: n.o.RegistryReplicas, Storage: jetstream.FileStorage,
	}
	kv, err := openReplicated(ctx, n, js, cfg)
	if err != nil {
		return nil, err
	}
	g := &registry{
		n: n, kv: kv, ttl: n.o.RegistryTTL,
		cache: map[string]regCached{}, byBroker: map[string]map[string]struct{}{},
		live: map[string]bool{}, mine: map[string]regClaim{},
		pending: map[string]regOp{}, wake: make(chan struct{}, 1), stop: make(chan struct{}),
	}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	if g.watcher, err = kv.WatchAll(g.ctx); err != nil {
		return nil, err
	}
	// The initial values end with a nil entry.
	for loaded := false; !loaded; {
		select {
		case e := <-g.watcher.Updates():
			if e == nil {
				loaded = true
			} else {
				g.apply(e)
			}
		case <-ctx.Done():
			g.watcher.Stop()
			g.cancel()
			return nil, fmt.Errorf("identity registry: loading: %w", ctx.Err())
		}
	}
	g.done.Add(2)
	go g.watch()
	go g.write()
	return g, nil
}

// close stops the registry's goroutines. The keys this broker holds stay
// until their sessions' ends are written (Node.Close ends no session) or
// they expire; other brokers ignore them as soon as this broker is
// withdrawn.
func (g *registry) close() {
	g.once.Do(func() {
		close(g.stop)
		g.cancel()
		g.watcher.Stop()
		g.done.Wait()
	})
}

// identKey encodes an identifier as a KV key: identifiers made only of
// [-_=a-zA-Z0-9] and not starting with "x-" as they are, others as "x-"
// and their bytes in hex (so the mapping is one to one).
func identKey(ident string) string {
	plain := ident != "" && !strings.HasPrefix(ident, "x-")
	for i := 0; plain && i < len(ident); i++ {
		c := ident[i]
		plain = c == '-' || c == '_' || c == '=' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	if plain {
		return ident
	}
	return "x-" + hex.EncodeToString([]byte(ident))
}

// keyIdent decodes identKey.
func keyIdent(key string) (string, bool) {
	if h, ok := strings.CutPrefix(key, "x-"); ok {
		b, err := hex.DecodeString(h)
		return string(b), err == nil
	}
	return key, key != ""
}

// errRegistry wraps registry write failures for the log.
var errRegistry = errors.New("identity registry")

// createBucket opens the bucket, or creates it when there is none,
// retrying while JetStream is still starting (no meta leader yet) until
// ctx ends; a NATS cluster without JetStream fails at once. Each attempt
// is bounded by 2 s: CreateOrUpdateKeyValue from two brokers at once on
// a fresh cluster was seen to hang both until their deadline (nats.go
// 1.53/1.55, nats-server 2.15.3); open, then create, does not. An
// existing bucket is used with its own settings (its TTL and replicas
// were set by the broker that created it).
func createBucket(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		kv, err := js.KeyValue(actx, cfg.Bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			kv, err = js.CreateKeyValue(actx, cfg)
		}
		cancel()
		if err == nil || !starting(err) && !errors.Is(err, jetstream.ErrBucketExists) {
			return kv, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// openReplicated is createBucket that retries with one replica when
// cfg.Replicas cannot be had (a NATS cluster with fewer JetStream servers).
func openReplicated(ctx context.Context, n *Node, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := createBucket(ctx, js, cfg)
	if err != nil && cfg.Replicas > 1 && ctx.Err() == nil && !noJetStream(err) {
		n.log.Warn("federation bucket: fewer replicas", "bucket", cfg.Bucket, "want", cfg.Replicas, "err", err)
		cfg.Replicas = 1
		kv, err = createBucket(ctx, js, cfg)
	}
	return kv, err
}

// noJetStream reports an error saying the NATS servers have no JetStream.
func noJetStream(err error) bool {
	return errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) ||
		errors.Is(err, nats.ErrNoResponders)
}

// starting tells the errors of a JetStream that is not ready yet (503
// without a leader, a request timing out) from definitive ones.
func starting(err error) bool {
	if noJetStream(err) {
		return false
	}
	var ae *jetstream.APIError
	if errors.As(err, &ae) {
		return ae.Code == 503 && ae.ErrorCode != 10023 // insufficient resources: fewer servers than replicas
	}
	return errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded)
}
