"""The device side of a client: request handlers and their replies
(docs/protocol.md §6.7)."""

from __future__ import annotations

import collections
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from . import errors
from .messages import (H_CANCEL_REQUEST, H_ERROR, H_METHOD, H_REASON, H_REPLY_TO, H_REQUEST_ID, H_STATUS,
                       H_TTL, ERROR, OK, Delivery, Reply, Request, frames_of)

if TYPE_CHECKING:
    from .client import Client

Handler = Callable[[Request], Any]

DEDUP_WINDOW = 600.0  # seconds an answer is kept for retries
DEDUP_MAX = 10000


class Device:
    """Runs handlers on the client's pool and answers; remembers recent
    answers so that a retried (requester, id) is answered, not re-run."""

    def __init__(self, client: "Client") -> None:
        self.client = client
        self.handlers: dict[str, Handler] = {}
        self.fallback: Handler | None = None
        self._lock = threading.Lock()
        self._running: dict[tuple[str, str], Request] = {}
        self._done: collections.OrderedDict[tuple[str, str], tuple[float, dict[str, str], list[bytes]]] = \
            collections.OrderedDict()
        self._closing = False
        self._idle = threading.Condition(self._lock)

    def offer(self, d: Delivery) -> bool:
        """Handle d if it is a request or a cancellation (I/O thread)."""
        if H_CANCEL_REQUEST in d.headers:
            with self._lock:
                req = self._running.get((d.sender, d.headers[H_CANCEL_REQUEST]))
            if req is not None:
                req.cancelled.set()
            return True
        if H_REQUEST_ID not in d.headers or H_METHOD not in d.headers:
            return False
        deadline = None
        if H_TTL in d.headers:
            try:
                ms = int(d.headers[H_TTL])
            except ValueError:
                ms = 0
            if ms <= 0:
                self._answer(Request(self.client, d, None), None,
                             errors.Expired("expired", "the request arrived with no time left"))
                return True
            deadline = time.monotonic() + ms / 1000
        req = Request(self.client, d, deadline)
        key = (req.sender, req.id)
        with self._lock:
            if key in self._done:
                _, recorded, content = self._done[key]
                self.client.direct(req.sender, content, recorded)  # a retry: the recorded answer
                return True
            if key in self._running:
                return True  # a retry of one still running: it will answer
            closing = self._closing
            h = self.handlers.get(req.method) or self.fallback
            if not closing and h is not None:
                self._running[key] = req
        if closing:
            self._answer(req, None, errors.DeviceError("device-error", "the device is shutting down"))
        elif h is None:
            self._answer(req, None, errors.NoSuchMethod("no-such-method", f"no handler for method {req.method!r}"))
        else:
            self.client._pool.submit(self._run, h, req)
        return True

    def _run(self, h: Handler, req: Request) -> None:
        result: Any = None
        err: BaseException | None = None
        try:
            left = req.remaining()
            if left is not None and left <= 0:
                err = errors.Expired("expired", "the request's deadline passed before it could run")
            else:
                result = h(req)
        except errors.ProtocolError as e:
            err = e
        except Exception as e:
            err = errors.DeviceError("device-error", str(e) or type(e).__name__)
            if req.cancelled.is_set():
                err = errors.Cancelled("cancelled", "cancelled by the requester")
            elif req.deadline is not None and time.monotonic() >= req.deadline:
                err = errors.Expired("expired", f"the handler ran past the request's deadline: {e}")
        self._answer(req, result, err)

    def _answer(self, req: Request, result: Any, err: BaseException | None) -> None:
        h: dict[str, str] = {}
        if isinstance(result, Reply):
            h.update(result.headers)
            content = list(result.content)
        else:
            content = frames_of(result)
        h[H_REPLY_TO] = req.id
        if err is None:
            h[H_STATUS] = OK
        else:
            h[H_STATUS] = ERROR
            h[H_ERROR] = getattr(err, "code", "") or "device-error"
            h[H_REASON] = getattr(err, "reason", "") or str(err)
        key = (req.sender, req.id)
        now = time.monotonic()
        with self._lock:
            self._running.pop(key, None)
            self._done[key] = (now, h, content)
            while self._done:
                k, (at, _, _) = next(iter(self._done.items()))
                if len(self._done) <= DEDUP_MAX and now - at < DEDUP_WINDOW:
                    break
                del self._done[k]
            self._idle.notify_all()
        try:
            self.client.direct(req.sender, content, h)
        except errors.ZccpError as e:
            self.client._report(errors.ZccpError(f"reply to {req.sender} ({req.id}) not sent: {e}"))

    def drain(self, timeout: float) -> None:
        """Refuse new requests and wait up to timeout for running ones."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._closing = True
            while self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._idle.wait(left)

    def cancel_all(self) -> None:
        with self._lock:
            for req in self._running.values():
                req.cancelled.set()
