"""Outstanding requests and group calls."""

from __future__ import annotations

import collections
import queue
import threading
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING, Iterator

from .messages import PROGRESS, Delivery, Reply, Summary

if TYPE_CHECKING:
    from .client import Client


class _Pending:
    """Replies to one outstanding request id."""

    def __init__(self, group: bool) -> None:
        self.q: queue.SimpleQueue[Reply | BaseException] = queue.SimpleQueue()
        self.receipt: Future[Delivery] | None = Future() if group else None
        self.lost = False  # failed with its session: its request is not sent later


class GroupCall:
    """A group request in flight: ``expected`` lists whom the broker routed
    it to (its receipt). Iterate for the final replies as they come (the
    iteration ends when all are in or at the timeout), then summary()."""

    def __init__(self, client: "Client", rid: str, p: _Pending, expected: list[str], dry_run: bool,
                 timeout: float) -> None:
        self.id = rid
        self.expected = expected
        self.dry_run = dry_run
        self._client = client
        self._p = p
        self._timeout = timeout
        self._deadline = time.monotonic() + timeout
        self._waiting = collections.Counter(expected)
        self._summary = Summary(expected=list(expected))
        self._done = dry_run or not expected
        self._lock = threading.Lock()
        if dry_run:
            self._summary.missing = sorted(expected)
        if self._done:
            client._unregister(rid)

    def __iter__(self) -> Iterator[Reply]:
        while True:
            with self._lock:
                if self._done:
                    return
                r = self._next()
                if r is None:
                    self._finish()
                    return
            yield r

    def _next(self) -> Reply | None:
        while sum(self._waiting.values()) > 0:
            left = self._deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                r = self._p.q.get(timeout=left)
            except queue.Empty:
                return None
            if isinstance(r, BaseException):
                return None  # the session was lost: the rest are missing
            if r.status == PROGRESS:
                self._deadline = time.monotonic() + self._timeout
                continue
            if self._waiting[r.sender] <= 0:
                continue  # not on the roll call, or answered already
            self._waiting[r.sender] -= 1
            if r.ok:
                self._summary.ok.append(r.sender)
            else:
                self._summary.failed[r.sender] = r
            if sum(self._waiting.values()) == 0:
                self._finish()
            return r
        return None

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        self._client._unregister(self.id)
        for who, n in self._waiting.items():
            for _ in range(n):
                self._summary.missing.append(who)
                self._client._cancel_request(who, self.id)
        self._summary.missing.sort()

    def summary(self) -> Summary:
        """Wait for the call to end (reading any replies left) and account
        for every expected device: ok, failed, or missing."""
        for _ in self:
            pass
        return self._summary
