"""Local matching of zrex expressions (docs/protocol.md §5.2), used only to
hand a delivery to the right subscriptions of this client: the broker has
already decided that the client gets it, and it validates expressions.

Expressions are translated to Python ``re`` on bytes. Known simplification:
a class escape inside a set (``[\\d]``) is taken as the class, where zrex
compares the bytes of its internal opcode (the broker does as zrex does).
"""

from __future__ import annotations

import re
from typing import Callable

_CLASSES = {
    "d": b"0-9", "s": b" \\t\\n\\v\\f\\r", "a": b"A-Za-z", "w": b"A-Za-z0-9",
}
_BYTES = {"n": b"\n", "r": b"\r", "t": b"\t", "0": b"\x00"}


def _escape(c: int) -> bytes:
    return re.escape(bytes([c]))


def _class(c: str) -> bytes | None:
    low = c.lower()
    if low in _CLASSES:
        neg = b"^" if c != low else b""
        return b"[" + neg + _CLASSES[low] + b"]"
    return None


def _set(src: bytes, i: int) -> tuple[bytes, int]:
    """Translate the set starting after '[' at src[i]; return (regex, next)."""
    neg = i < len(src) and src[i] == ord("^")
    if neg:
        i += 1
    members = b""
    while i < len(src) and src[i] != ord("]"):
        c = src[i]
        if c == ord("\\") and i + 1 < len(src):
            e = chr(src[i + 1])
            if e.lower() in _CLASSES:
                members += _CLASSES[e.lower()] if e.islower() else b""  # approximation
            else:
                members += _escape(_BYTES.get(e, bytes([src[i + 1]]))[0])
            i += 2
            continue
        members += _escape(c)
        i += 1
    if i >= len(src):
        raise ValueError("missing ]")
    i += 1
    if not members:
        return (b"(?s:.)" if neg else b"(?!)"), i
    return b"[" + (b"^" if neg else b"") + members + b"]", i


def translate(expr: str | bytes) -> tuple[bytes, bool]:
    """zrex → (Python regex on bytes, anchored at offset 0)."""
    src = expr.encode("utf-8", "surrogateescape") if isinstance(expr, str) else expr
    anchored = src.startswith(b"^")
    out = b""
    i = 1 if anchored else 0
    while i < len(src):
        c = src[i]
        if c == ord("\\"):
            if i + 1 >= len(src):
                raise ValueError("trailing backslash")
            e = chr(src[i + 1])
            cls = _class(e)
            out += cls if cls is not None else _escape(_BYTES.get(e, bytes([src[i + 1]]))[0])
            i += 2
        elif c == ord("["):
            s, i = _set(src, i + 1)
            out += s
        elif c == ord("$"):
            out += rb"\Z"
            i += 1
        elif c in b".*+?|()^":
            out += bytes([c])
            i += 1
        else:
            out += _escape(c)
            i += 1
    return out, anchored


def compile(expr: str | bytes) -> Callable[[bytes], bool]:
    """A predicate telling whether an address matches expr (ValueError if
    expr cannot be translated)."""
    pattern, anchored = translate(expr)
    try:
        rx = re.compile(b"(?:" + pattern + b")", re.DOTALL)
    except re.error as e:
        raise ValueError(str(e)) from None
    if anchored:
        return lambda addr: bool(addr) and rx.match(addr) is not None

    def search(addr: bytes) -> bool:
        m = rx.search(addr)
        return m is not None and m.start() < len(addr)  # zrex never starts a match at the end

    return search
