"""Subscriptions: where a client's deliveries go."""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING, Any, Callable, Iterator, cast

from . import errors
from .messages import Delivery

if TYPE_CHECKING:
    from .client import Client

Callback = Callable[[Delivery], Any]

_END = object()  # ends a subscription's iterator


class Subscription:
    """One subscribe() call. Iterate over it (or call get()) when it was
    made without a callback; cancel() to stop."""

    def __init__(self, client: "Client", expression: str, callback: Callback | None,
                 matcher: Callable[[bytes], bool], limit: int) -> None:
        self.expression = expression
        self.callback = callback
        self.delivered = 0
        self.dropped = 0
        self._client = client
        self._match = matcher
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._pending = 0
        self._limit = limit
        self._lock = threading.Lock()
        self._ended = False

    def _offer(self, d: Delivery) -> None:
        """Queue d (I/O thread); beyond the pending limit it is dropped."""
        with self._lock:
            if self._ended:
                return
            if self._pending >= self._limit:
                self.dropped += 1
                dropped = self.dropped
            else:
                self._pending += 1
                dropped = 0
        if dropped:
            if dropped == 1 or dropped % 1000 == 0:
                self._client._report(errors.ZccpError(
                    f"slow consumer: subscription {self.expression!r} has dropped {dropped}"))
            return
        if self.callback is not None:
            self._client._dispatch(self._run_callback, d)
        else:
            self._q.put(d)

    def _run_callback(self, d: Delivery) -> None:
        self._taken()
        if not self._ended:
            self.callback(d)  # type: ignore[misc]

    def _taken(self) -> None:
        with self._lock:
            self._pending -= 1
            self.delivered += 1

    def get(self, timeout: float | None = None) -> Delivery:
        """The next delivery; Timeout after timeout seconds, Closed when
        the subscription or the client has ended."""
        if self.callback is not None:
            raise TypeError("this subscription delivers to its callback")
        try:
            d = self._q.get(timeout=timeout)
        except queue.Empty:
            raise errors.Timeout(f"no delivery for {self.expression!r} within {timeout} s") from None
        if d is _END:
            self._q.put(_END)
            raise errors.Closed("subscription ended")
        self._taken()
        return cast(Delivery, d)

    def __iter__(self) -> Iterator[Delivery]:
        while True:
            try:
                yield self.get()
            except errors.Closed:
                return

    def _end(self) -> None:
        with self._lock:
            self._ended = True
        self._q.put(_END)

    def cancel(self, timeout: float = 5.0) -> None:
        """Stop the subscription; the broker is told when it was the last
        one with its expression."""
        self._client._unsubscribe(self, timeout)
