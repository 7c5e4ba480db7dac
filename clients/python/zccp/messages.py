"""What the client hands to applications: deliveries, replies, requests."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from . import errors

if TYPE_CHECKING:
    from .client import Client

# Extension header names (docs/protocol.md §7) the client uses.
H_REQUEST_ID = "zccp-request-id"
H_METHOD = "zccp-method"
H_TTL = "zccp-ttl"
H_SELECT = "zccp-select"
H_DRY_RUN = "zccp-dry-run"
H_REPLY_TO = "zccp-reply-to"
H_STATUS = "zccp-status"
H_ERROR = "zccp-error"
H_REASON = "zccp-reason"
H_COMMAND = "zccp-command"
H_ADDRESS = "zccp-address"
H_RECIPIENT = "zccp-recipient"
H_RECIPIENTS = "zccp-recipients"
H_SERVES = "zccp-serves"  # HELLO: this client serves requests (only such sessions are group members)
H_CANCEL = "zccp-cancel"
H_CANCEL_REQUEST = "zccp-cancel-request"
H_MISSED = "zccp-missed"

BROKER = "$zccp"
ADDR_ERROR = "$zccp.error"
ADDR_RECEIPT = "$zccp.receipt"

OK, ERROR, PROGRESS = "ok", "error", "progress"

Body = bytes | str | Sequence[bytes | str] | None


def frames_of(body: Body) -> list[bytes]:
    """A body as content frames: None → none, bytes/str → one frame, a
    sequence → one frame per item (str as UTF-8)."""
    if body is None:
        return []
    if isinstance(body, (bytes, bytearray, memoryview)):
        return [bytes(body)]
    if isinstance(body, str):
        return [body.encode()]
    return [bytes(f) if not isinstance(f, str) else f.encode() for f in body]


@dataclass
class Delivery:
    """A DELIVER: a publication, a DIRECT, or a notice from ``$zccp``."""

    sender: str
    address: str
    headers: dict[str, str] = field(default_factory=dict)
    content: list[bytes] = field(default_factory=list)
    # Notifications the broker dropped for this client (its queue
    # overflowed) since the previous report: zccp-missed, taken out of
    # headers.
    missed: int = 0

    @property
    def body(self) -> bytes:
        """The first content frame (b"" when there is none)."""
        return self.content[0] if self.content else b""

    @property
    def text(self) -> str:
        """The first content frame as UTF-8 text."""
        return self.body.decode("utf-8", "replace")


@dataclass
class Reply:
    """A device's answer to a request (or the broker's on its behalf)."""

    sender: str
    status: str
    code: str = ""
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    content: list[bytes] = field(default_factory=list)

    @property
    def body(self) -> bytes:
        return self.content[0] if self.content else b""

    @property
    def ok(self) -> bool:
        return self.status != ERROR

    def error(self) -> errors.ProtocolError | None:
        """The exception this reply stands for, or None if it succeeded."""
        if self.ok:
            return None
        return errors.error_for(self.code, self.reason, sender=self.sender, headers=self.headers)

    @classmethod
    def from_delivery(cls, d: Delivery) -> "Reply":
        sender = d.sender
        if sender == BROKER and H_RECIPIENT in d.headers:
            sender = d.headers[H_RECIPIENT]
        return cls(sender=sender, status=d.headers.get(H_STATUS) or OK, code=d.headers.get(H_ERROR, ""),
                   reason=d.headers.get(H_REASON, ""), headers=d.headers, content=d.content)


class Request:
    """A request received by a device handler.

    ``deadline`` is a ``time.monotonic()`` value (None: no TTL); handlers
    that run long should check ``cancelled`` (set when the requester
    cancels) and ``remaining()``, and may call ``progress()``.
    """

    def __init__(self, client: "Client", d: Delivery, deadline: float | None) -> None:
        self.id = d.headers[H_REQUEST_ID]
        self.method = d.headers[H_METHOD]
        self.sender = d.sender
        self.address = d.address
        self.headers = d.headers
        self.content = d.content
        self.deadline = deadline
        self.cancelled = threading.Event()
        self._client = client

    @property
    def body(self) -> bytes:
        return self.content[0] if self.content else b""

    def remaining(self) -> float | None:
        """Seconds left before the deadline (None: no deadline)."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    def progress(self, body: Body = None) -> None:
        """Tell the requester the job is still running (extends its timeout)."""
        self._client.direct(self.sender, body, headers={H_REPLY_TO: self.id, H_STATUS: PROGRESS})


@dataclass
class Summary:
    """The account of a group request: who was expected, who answered."""

    expected: list[str]
    ok: list[str] = field(default_factory=list)
    failed: dict[str, Reply] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
