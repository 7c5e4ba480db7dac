// Package match implements ZCCP subscription matching: clients subscribe
// with regular expressions in the CZMQ zrex dialect, and every published
// address (a byte string of at most 255 bytes, such as "power.rack12.pdu3")
// is delivered to each session that has at least one matching expression,
// once per session.
//
// # Dialect
//
// zrex wraps SLRE (czmq src/foreign/slre/slre.inc_c; read at czmq commit
// b669c7e). Matching is an unanchored search over bytes. The syntax, as
// SLRE's code implements it (which is not always what its comment says):
//
//	^  $        start / end of the address (no multi-line mode)
//	.           any byte, newline and NUL included
//	( )         group (capturing in zrex; the captures do not matter here)
//	|           alternation (undocumented, but implemented)
//	* + ?       greedy repetition; *? and +? are the non-greedy forms
//	[abc]       one of the listed bytes; [^abc] any other byte
//	\d \D       digit / not, per C isdigit
//	\s \S       space / not, per C isspace: space \t \n \v \f \r
//	\a \A       letter / not, per C isalpha (not the bell character)
//	\w \W       letter or digit / not, per C isalnum: NO underscore
//	\n \r \t    newline, carriage return, tab; \0 is the byte 0
//	\c          any other escaped byte stands for itself: \. \[ \\ \{ ...
//
// C's classification functions are taken in the "C" locale, so bytes
// 0x80-0xFF are never letters, digits or spaces. Things to know:
//
//   - There are no ranges: [a-z] is the set {'a', '-', 'z'}.
//   - \xDD is documented by zrex but not implemented: \x41 means "x41".
//     There is no \b, \B, {n,m}, (?flags), POSIX class or case folding;
//     { } and ] are ordinary characters (translated to \{ \} \]).
//   - A ']' right after '[' (or "[^") closes the set: [] matches nothing
//     and [^] matches any byte.
//   - A class escape inside a set is stored by SLRE as the byte 0x00 plus
//     an internal opcode byte and then compared as plain bytes, so [\d]
//     matches the bytes 0x00 and 0x11, not digits. This package does the
//     same, so that a pattern means what it means to a C peer.
//   - An expression that starts with ^ is tried at offset 0 only (so ^a|b
//     means ^(a|b)); any other expression is tried at offsets 0 to len-1:
//     it never matches the empty address, and a match may not start at the
//     very end, so `$` alone matches nothing and x*$ needs a final 'x'.
//
// [Translate] turns an expression into Go RE2 syntax, with bytes
// 0x80-0xFF written as the runes U+0080-U+00FF; [Pattern] and [Index] feed
// the regexp the address through [Latin1], which widens those bytes the
// same way, so `.` and sets consume exactly one address byte, as in C.
//
// Errors: Translate rejects everything SLRE rejects (a missing ] or ),
// more than 256 bytes of SLRE code or of literal data), the inputs on which
// SLRE's compiler reads past the end of the string (a trailing backslash)
// or never returns (a ) without its ( ), a NUL byte, and three things SLRE
// accepts but cannot run sensibly: a quantifier with nothing before it
// (*a, a|*b), a quantifier applied to ^ or $ (SLRE would repeat the
// previous atom and the anchor together), and * or + applied to something
// that can match the empty string, such as (a*)* or a?+, on which SLRE's
// matcher never returns.
//
// Remaining differences from the C implementation:
//
//   - SLRE backtracks incompletely: once ? or an alternative has matched it
//     is not reconsidered, so SLRE finds no match for a?ab in "ab" or for
//     (a|ab)c in "abc". RE2 explores every possibility, so for such
//     expressions this package can deliver where a C broker would not,
//     never the other way round.
//   - On platforms where C's char is signed (x86), SLRE never matches a byte
//     0x80-0xFF against a [...] set that lists it ([^...] then always
//     matches it). This package compares bytes as unsigned, as SLRE does on
//     ARM and as was evidently intended.
//   - zrex takes the address as a C string, so a C broker sees an address
//     with a NUL byte as ending there; this package matches all its bytes.
//
// # Index: pruning
//
// Add translates each new expression, parses the result with
// regexp/syntax and files it in exactly one structure:
//
//   - `^lit$` (pure literal anchored at both ends): an exact map;
//   - `^lit`: a prefix map (one entry per prefix; a lookup probes one entry
//     per prefix length in use), answered by a byte comparison;
//   - `lit$`: a suffix map, likewise;
//   - `lit`: an n-gram index (4-byte grams; 1-3 bytes for shorter
//     literals), answered by a substring search;
//   - any other expression: under its literal prefix or suffix, or under an
//     n-gram of a literal factor every match must contain (`temp\.node(\d+)
//     \.r42` has "temp.node" and ".r42"), whichever looks most selective;
//     the gram chosen is the one fewest filed literals contain, estimated
//     with a fixed 64K-counter table, so shared parts ("temp.node") are
//     avoided when rarer ones exist. A candidate found this way is checked
//     for its literal, then confirmed with the regexp;
//   - expressions without any usable literal (\d+, ^(a|b)) go to a list
//     that every cache miss scans.
//
// Leading and trailing .* are ignored where they cannot change the answer,
// so `.*rack12.*` is a substring and `^power\..*$` a prefix. Expressions
// answered by a literal structure never run or even compile a regexp.
//
// Compiled regexps cost about 2-3.5 KB each. By default they are not kept
// per expression: one is compiled when a candidate address first needs it
// and kept in a bounded set ([WithRegexpCacheSize], default 4096 ≈ 8 MB),
// which drops a random resident when full. With WithRegexpCacheSize(-1)
// (what the broker uses) each regexp expression is compiled once, when it
// is added, and keeps its regexp while it is in the index, so Match never
// compiles: a miss costs at most one regexp run per candidate expression,
// and a session's further expressions are skipped once one of them matched.
//
// # Index: result cache
//
// Match first looks the address up in a per-address result cache of
// [WithCacheSize] slots (default 65536; about 90 bytes per filled slot
// with one session, plus 8 bytes per slot). The cache is a 4-way
// set-associative array of immutable entries read with atomic loads: a hit
// takes no lock and does not allocate. Replacement prefers the slot already
// holding the address, then an empty slot, then a stale one, then a random
// one; there is no LRU order to maintain or to defeat. (When addresses
// cycle through several times more entries than the cache holds, the hit
// rate falls roughly as e^-k for k times the capacity, instead of LRU's
// drop to zero.)
//
// Every change (Add, Remove, RemoveAll that changes something) increments
// a generation counter while holding the index's write lock, and records
// itself in a log of the last 64 changes; an entry is used as it is only
// if it was computed at the current generation. An older entry is brought
// up to date by replaying the changes made since, which only needs the
// changed expression checked against the address: Add(s, e) puts s in the
// result if e matches, RemoveAll(s) takes s out; a Remove(s, e) where e
// matches and s is in the result (s may match through another expression),
// or an entry older than the log, is recomputed. So a subscription change
// costs each cached address one check of one expression (about 10 ns for
// a literal one) the next time it is published to, instead of a full
// lookup: subscription churn does not empty the cache. A Match that starts
// after a Remove has returned never sees the removed session, whatever
// the cache holds, and no change has to walk the cache. Stats counts hits,
// refreshes and misses separately.
//
// # Memory and speed
//
// Measured with 100k distinct expressions, 100 per session (go test -run
// TestMemoryBudget -v), heap bytes per subscription beyond the expression
// text: `^power\.rack0123\.pdu7$` 236, `^sensor\.00042\.` 227, `rack000042`
// 168, `temp\.node(\d+)\.r42` 164, `\.pdu00042$` 216, a mix of all five
// 212 (223 with one session per subscription). This covers the expression
// record, its map and index entries, the literal when it cannot share the
// text's bytes, and the session's set; the bounded caches above come on
// top and do not grow with the number of subscriptions. Subscribing 100k
// distinct expressions takes about 0.4-0.6 s (4-5 µs each). See
// bench_test.go for Match timings (cache hit about 15-20 ns at any size),
// and broker/match_bench_test.go for the same measured end to end through
// the broker: deliveries/s at 1 to 100k patterns, subscribe time and heap
// per subscription.
//
// # Concurrency
//
// An [Index] is safe for concurrent use. Match takes no lock on a cache
// hit and the read lock on a miss or a refresh; Add, Remove and RemoveAll take the
// write lock (Add translates and analyses a new expression before taking
// it). No user code is ever called with a lock held.
package match
