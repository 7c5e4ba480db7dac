package match

// Option configures an [Index].
type Option func(*config)

type config struct {
	cacheSize       int
	regexpCacheSize int
	changeLog       int // changes kept for refreshing cache entries (tests change it)
}

// Defaults used by [NewIndex].
const (
	// DefaultCacheSize is the default number of addresses whose results
	// are cached.
	DefaultCacheSize = 1 << 16
	// DefaultRegexpCacheSize is the default number of expressions that
	// keep a compiled regexp at the same time. See WithRegexpCacheSize(-1)
	// for an index whose Match never compiles.
	DefaultRegexpCacheSize = 4096
)

func defaultConfig() config {
	return config{cacheSize: DefaultCacheSize, regexpCacheSize: DefaultRegexpCacheSize, changeLog: defaultChangeLog}
}

// WithCacheSize sets how many addresses the per-address result cache holds
// (rounded up to a multiple of 4 and a power of two); 0 or less disables the
// cache, so every Match consults the index.
func WithCacheSize(n int) Option {
	return func(c *config) { c.cacheSize = n }
}

// WithRegexpCacheSize sets how many expressions may keep a compiled regexp
// at the same time; the others are compiled again when a candidate address
// needs them (on the Match path: when more regexp expressions are
// candidates for the addresses published than n, every miss compiles). A
// negative n compiles every regexp expression once, when it is added, and
// keeps its regexp while it is in the index, so Match never compiles
// (2-3.5 KB per regexp expression, bounded by the subscriptions the caller
// allows); 0 keeps none.
func WithRegexpCacheSize(n int) Option {
	return func(c *config) { c.regexpCacheSize = n }
}
