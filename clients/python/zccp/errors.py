"""Exceptions. Everything the broker or a device reports carries its
protocol error code; ``error_for(code, ...)`` picks the class."""

from __future__ import annotations

from typing import Mapping


class ZccpError(Exception):
    """Base of every exception this package raises."""


class Closed(ZccpError):
    """The client was closed (or its identifier was taken over)."""


class BufferFull(ZccpError):
    """The outgoing buffer is full (the broker is away or slow)."""


class ConnectError(ZccpError, ConnectionError):
    """connect() got no HELLO-OK within its timeout."""


class ConnectionLost(ZccpError, ConnectionError):
    """The session to the broker ended with a request outstanding; the
    reply, if any, would have come on the lost session."""


class Timeout(ZccpError, TimeoutError):
    """No (final) reply within the caller's timeout."""


class ProtocolError(ZccpError):
    """An error reported on the wire, by the broker (a notice, or a reply
    on a device's behalf) or by a device (an error reply).

    ``code`` is the ``zccp-error`` code, ``reason`` the ``zccp-reason``
    text; ``sender`` is the device concerned for requests; ``command`` and
    ``address`` say what a notice is about; ``headers`` holds them all.
    """

    code = ""

    def __init__(self, code: str = "", reason: str = "", *, sender: str = "", command: str = "",
                 address: str = "", headers: Mapping[str, str] | None = None) -> None:
        self.code = code or type(self).code
        self.reason = reason
        self.sender = sender
        self.command = command
        self.address = address
        self.headers = dict(headers or {})
        super().__init__(self._text())

    def _text(self) -> str:
        s = self.code or "error"
        if self.sender:
            s = f"{self.sender}: {s}"
        if self.command:
            s += f" ({self.command}" + (f" {self.address!r}" if self.address else "") + ")"
        return s + (f": {self.reason}" if self.reason else "")


class NoSuchClient(ProtocolError):
    code = "no-such-client"


class Expired(ProtocolError):
    code = "expired"


class Disconnected(ProtocolError):
    code = "disconnected"


class DeviceError(ProtocolError):
    code = "device-error"


class NoSuchMethod(ProtocolError):
    code = "no-such-method"


class Cancelled(ProtocolError):
    code = "cancelled"


class QueueFull(ProtocolError):
    code = "queue-full"


class TooManyRequests(ProtocolError):
    code = "too-many-requests"


class BadRequest(ProtocolError):
    code = "bad-request"


class BadExpression(ProtocolError):
    code = "bad-expression"


class TakenOver(ProtocolError):
    code = "taken-over"


class Reserved(ProtocolError):
    code = "reserved"


class TooLarge(ProtocolError):
    code = "too-large"


_BY_CODE: dict[str, type[ProtocolError]] = {
    c.code: c for c in (NoSuchClient, Expired, Disconnected, DeviceError, NoSuchMethod, Cancelled,
                        QueueFull, TooManyRequests, BadRequest, BadExpression, TakenOver, Reserved,
                        TooLarge)
}


def error_for(code: str, reason: str = "", **kw: object) -> ProtocolError:
    """The exception for a protocol error code (an error reply without a
    code is a DeviceError; an unknown code a plain ProtocolError)."""
    if not code:
        return DeviceError("device-error", reason, **kw)  # type: ignore[arg-type]
    return _BY_CODE.get(code, ProtocolError)(code, reason, **kw)  # type: ignore[arg-type]
