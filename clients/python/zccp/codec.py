"""ZCCP/1 frame 1 encoding and decoding (docs/protocol.md §2-§3).

Strings on the wire are octets. This package hands them to Python as
``str`` decoded from UTF-8 with ``surrogateescape``, so that any byte
sequence survives a round trip: ``encode_text(decode_text(b)) == b``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Mapping, Sequence

SIGNATURE = b"\xaa\xaa"
MAX_STRING = 255

HELLO, HELLO_OK, SUBSCRIBE, SUBSCRIBE_OK, PUBLISH, DIRECT, DELIVER = 1, 2, 3, 4, 5, 6, 7
GOODBYE, GOODBYE_OK, PING, PING_OK, INVALID = 8, 9, 10, 11, 12

NAMES = {
    HELLO: "HELLO", HELLO_OK: "HELLO-OK", SUBSCRIBE: "SUBSCRIBE",
    SUBSCRIBE_OK: "SUBSCRIBE-OK", PUBLISH: "PUBLISH", DIRECT: "DIRECT",
    DELIVER: "DELIVER", GOODBYE: "GOODBYE", GOODBYE_OK: "GOODBYE-OK",
    PING: "PING", PING_OK: "PING-OK", INVALID: "INVALID",
}

# Which fields each command carries, in wire order; "msg" marks content frames.
_FIELDS: dict[int, tuple[str, ...]] = {
    HELLO: ("identifier", "headers"),
    HELLO_OK: ("headers",),
    SUBSCRIBE: ("expression", "headers"),
    SUBSCRIBE_OK: (),
    PUBLISH: ("address", "headers", "msg"),
    DIRECT: ("address", "headers", "msg"),
    DELIVER: ("sender", "address", "headers", "msg"),
    GOODBYE: (),
    GOODBYE_OK: ("headers",),
    PING: (),
    PING_OK: (),
    INVALID: (),
}

Text = str | bytes


class MalformedError(ValueError):
    """A frame 1 that is not a valid ZCCP/1 command, or a value that the
    wire cannot carry (a string over 255 bytes)."""


def encode_text(s: Text) -> bytes:
    """str → wire octets (UTF-8, surrogateescape); bytes pass unchanged."""
    if isinstance(s, bytes):
        return s
    return s.encode("utf-8", "surrogateescape")


def decode_text(b: bytes) -> str:
    """Wire octets → str; invalid UTF-8 is kept as lone surrogates."""
    return b.decode("utf-8", "surrogateescape")


@dataclass
class Message:
    """One ZCCP command: frame 1's fields plus the content frames."""

    id: int
    identifier: str = ""
    expression: str = ""
    address: str = ""
    sender: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    content: list[bytes] = field(default_factory=list)

    @property
    def name(self) -> str:
        return NAMES.get(self.id, f"command {self.id}")


def _string(out: bytearray, s: Text, what: str) -> None:
    b = encode_text(s)
    if len(b) > MAX_STRING:
        raise MalformedError(f"{what} is {len(b)} bytes; the wire carries at most {MAX_STRING}")
    out.append(len(b))
    out += b


def _dictionary(out: bytearray, headers: Mapping[str, Text] | None) -> None:
    items = list((headers or {}).items())
    out += struct.pack(">I", len(items))
    for k, v in items:
        _string(out, k, "header name")
        vb = encode_text(v)
        out += struct.pack(">I", len(vb))
        out += vb


def encode(id: int, *, identifier: Text = "", expression: Text = "", address: Text = "",
           sender: Text = "", headers: Mapping[str, Text] | None = None,
           content: Sequence[bytes] = ()) -> list[bytes]:
    """Encode one command as the frames of a ZeroMQ multipart message."""
    fields = _FIELDS.get(id)
    if fields is None:
        raise MalformedError(f"unknown command id {id}")
    out = bytearray(SIGNATURE)
    out.append(id)
    values = {"identifier": identifier, "expression": expression, "address": address, "sender": sender}
    for f in fields:
        if f == "headers":
            _dictionary(out, headers)
        elif f != "msg":
            _string(out, values[f], f)
    frames = [bytes(out)]
    if "msg" in fields:
        frames.extend(bytes(c) for c in content)
    elif content:
        raise MalformedError(f"{NAMES[id]} has no content")
    return frames


class _Reader:
    def __init__(self, buf: bytes) -> None:
        self.buf, self.pos = buf, 3

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.buf):
            raise MalformedError(f"{what} runs past the end of the frame")
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def string(self, what: str) -> str:
        return decode_text(self.take(self.take(1, what)[0], what))

    def dictionary(self) -> dict[str, str]:
        (count,) = struct.unpack(">I", self.take(4, "dictionary count"))
        out: dict[str, str] = {}
        for _ in range(count):
            k = self.string("header name")
            (n,) = struct.unpack(">I", self.take(4, "header value length"))
            if k in out:
                raise MalformedError(f"repeated header {k!r}")
            out[k] = decode_text(self.take(n, "header value"))
        return out


def decode(frames: Sequence[bytes]) -> Message:
    """Decode a multipart message into a Message (MalformedError if bad)."""
    if not frames:
        raise MalformedError("empty message")
    f1 = bytes(frames[0])
    if len(f1) < 3 or f1[:2] != SIGNATURE:
        raise MalformedError("bad signature")
    fields = _FIELDS.get(f1[2])
    if fields is None:
        raise MalformedError(f"unknown command id {f1[2]}")
    m = Message(id=f1[2])
    r = _Reader(f1)
    for f in fields:
        if f == "headers":
            m.headers = r.dictionary()
        elif f != "msg":
            setattr(m, f, r.string(f))
    if r.pos != len(f1):
        raise MalformedError("bytes after the last field")
    if "msg" in fields:
        m.content = [bytes(c) for c in frames[1:]]
    elif len(frames) > 1:
        raise MalformedError(f"{m.name} has no content")
    return m
