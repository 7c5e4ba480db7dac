"""The client's local zrex matcher agrees with the broker's (asked through
group dry runs: the broker lists the sessions whose expression matches)."""

from __future__ import annotations

import pytest

from zccp import zrex

CASES = [
    # expression, address, zrex says
    ("H.*O", "(HELLO, WORLD)", True),
    (r"^power\.rack12\.", "power.rack12.pdu3", True),
    (r"^power\.rack12\.", "xpower.rack12.pdu3", False),
    ("[a-z]", "b", False),          # no ranges: the set {a, -, z}
    ("[a-z]", "-", True),
    (r"\a+\d", "abc7", True),       # \a is alphabetic, not the bell
    (r"\w", "_", False),            # \w has no underscore
    (r"\x41", "x41", True),         # \x is not hex
    ("a{2}", "a{2}", True),         # braces are literal
    ("a{2}", "aa", False),
    ("$", "abc", False),            # a match never starts at the end
    ("c$", "abc", True),
    ("^a|b", "xb", False),          # ^ anchors every alternative
    ("a|b", "xb", True),
    (r"\.", "a.b", True),
    (r"\.", "ab", False),
    ("[^abc]", "abc", False),
    (".", "", False),               # an empty address never matches
    ("a.c", "a\nc", True),          # . matches newline
    (r"\s", "a b", True),
    (r"x*?y", "xxy", True),
]


@pytest.mark.parametrize("expr,addr,want", CASES)
def test_local_matcher(expr, addr, want):
    assert zrex.compile(expr)(addr.encode()) is want


def test_local_matcher_agrees_with_the_broker(broker, clients):
    exprs = sorted({e for e, _, _ in CASES})
    for i, e in enumerate(exprs):
        c = clients(broker.tcp, identifier=f"m{i}", serves=True)
        c.handle_all(lambda req: None)
        c.subscribe(e, lambda _: None)
    app = clients(broker.tcp, identifier="asker")
    addrs = sorted({a for _, a, _ in CASES if a} | {"power.rack12.x", "HELLO", "a{2}b"})
    for a in addrs:
        got = set(app.request_group(a, "probe", dry_run=True).expected)
        want = {f"m{i}" for i, e in enumerate(exprs) if zrex.compile(e)(a.encode())}
        assert got == want, f"address {a!r}: broker {sorted(got)} local {sorted(want)}"
