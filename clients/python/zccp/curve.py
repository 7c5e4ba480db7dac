"""CURVE (CurveZMQ) for the client: keys in libzmq's Z85 text form.

The broker's public key is what ``zccpd key`` prints; the client's key
pair comes from :func:`curve_keypair` or from a key file written by
``zccp keygen`` (:func:`read_key_file`). docs/protocol.md §1.1.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import zmq

_Z85 = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")


class KeyPair(NamedTuple):
    public: str  # Z85, 40 characters
    secret: str


def curve_keypair() -> KeyPair:
    """A new CURVE key pair (libzmq's zmq_curve_keypair)."""
    if not zmq.has("curve"):
        raise RuntimeError("this libzmq has no CURVE (built without libsodium)")
    public, secret = zmq.curve_keypair()
    return KeyPair(public.decode("ascii"), secret.decode("ascii"))


def check_key(key: str | bytes, what: str) -> bytes:
    """The key as 40 Z85 bytes, or ValueError naming what it is."""
    k = key.encode("ascii") if isinstance(key, str) else bytes(key)
    if len(k) != 40 or not _Z85.issuperset(k):
        raise ValueError(f"{what}: not a CURVE key (40 Z85 characters)")
    return k


_KEY_LINE = re.compile(r'^\s+(public|secret)-key\s*=\s*"([^"]{40})"\s*$')


def read_key_file(path: str | Path) -> KeyPair:
    """The key pair in a file written by ``zccp keygen`` or zccpd (CZMQ's
    certificate layout: ``public-key = "..."``, ``secret-key = "..."``)."""
    keys: dict[str, str] = {}
    for line in Path(path).read_text().splitlines():
        m = _KEY_LINE.match(line)
        if m:
            keys[m.group(1)] = m.group(2)
    if "public" not in keys or "secret" not in keys:
        raise ValueError(f"{path}: no public-key and secret-key")
    return KeyPair(check_key(keys["public"], "public-key").decode(), check_key(keys["secret"], "secret-key").decode())


def split_endpoint(endpoint: str) -> tuple[str, bool]:
    """Removes a curve+ or null+ prefix; True when it was curve+."""
    if endpoint.startswith("curve+"):
        return endpoint[len("curve+"):], True
    if endpoint.startswith("null+"):
        return endpoint[len("null+"):], False
    return endpoint, False


__all__ = ["KeyPair", "check_key", "curve_keypair", "read_key_file", "split_endpoint"]
