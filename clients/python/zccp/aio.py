"""asyncio façade over the threaded Client.

    async with await zccp.aio.connect(endpoint, identifier="app") as c:
        sub = await c.subscribe(r"^power\\.")
        async for d in sub: ...
        reply = await c.request("pdu-1", "outlet.off", b"3")

The I/O thread stays as it is; blocking calls run in the loop's default
executor, deliveries reach the loop with call_soon_threadsafe, and async
handlers run on the loop that registered them.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator, Mapping

from .client import Client
from .client import connect as _connect
from .group import GroupCall
from .messages import Body, Delivery, Reply, Request, Summary
from .subscription import Subscription


class AsyncSubscription:
    """Deliveries of one subscription, as an async iterator."""

    def __init__(self, sub: Subscription, q: "asyncio.Queue[Delivery]") -> None:
        self.sub = sub
        self._q = q

    async def get(self) -> Delivery:
        return await self._q.get()

    def __aiter__(self) -> AsyncIterator[Delivery]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[Delivery]:
        while True:
            yield await self._q.get()

    async def cancel(self) -> None:
        await asyncio.to_thread(self.sub.cancel)


def _next(it: Iterator[Reply]) -> Reply | None:
    return next(it, None)


class AsyncGroupCall:
    """A group request: ``expected`` at once, replies with ``async for``."""

    def __init__(self, call: GroupCall) -> None:
        self.call = call
        self.expected = call.expected
        self._it = iter(call)

    def __aiter__(self) -> AsyncIterator[Reply]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[Reply]:
        while True:
            r = await asyncio.to_thread(_next, self._it)
            if r is None:
                return
            yield r

    async def summary(self) -> Summary:
        return await asyncio.to_thread(self.call.summary)


class AsyncClient:
    def __init__(self, client: Client, loop: asyncio.AbstractEventLoop) -> None:
        self.client = client
        self._loop = loop

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def publish(self, address: str, body: Body = None, headers: Mapping[str, str] | None = None) -> None:
        self.client.publish(address, body, headers)  # only queues: safe on the loop

    def direct(self, identifier: str, body: Body = None, headers: Mapping[str, str] | None = None) -> None:
        self.client.direct(identifier, body, headers)

    async def subscribe(self, expression: str, timeout: float = 5.0) -> AsyncSubscription:
        q: asyncio.Queue[Delivery] = asyncio.Queue()

        def deliver(d: Delivery) -> None:
            self._loop.call_soon_threadsafe(q.put_nowait, d)
        sub = await asyncio.to_thread(self.client.subscribe, expression, deliver, timeout)
        return AsyncSubscription(sub, q)

    async def request(self, identifier: str, method: str, body: Body = None, **kw: Any) -> Reply:
        return await asyncio.to_thread(functools.partial(self.client.request, identifier, method, body, **kw))

    async def request_group(self, address: str = "", method: str = "", body: Body = None,
                            **kw: Any) -> AsyncGroupCall:
        call = await asyncio.to_thread(functools.partial(self.client.request_group, address, method, body, **kw))
        return AsyncGroupCall(call)

    def handle(self, method: str) -> Callable[[Callable[[Request], Awaitable[Any]]], Callable[[Request], Awaitable[Any]]]:
        """Register a coroutine handler; it runs on this loop."""
        def deco(fn: Callable[[Request], Awaitable[Any]]) -> Callable[[Request], Awaitable[Any]]:
            self.client.handle(method, self._bridge(fn))
            return fn
        return deco

    def _bridge(self, fn: Callable[[Request], Awaitable[Any]]) -> Callable[[Request], Any]:
        loop = self._loop

        async def run(req: Request) -> Any:
            return await fn(req)
        return lambda req: asyncio.run_coroutine_threadsafe(run(req), loop).result()

    async def close(self) -> dict[str, str] | None:
        return await asyncio.to_thread(self.client.close)


async def connect(endpoint: str, *, handlers: Mapping[str, Callable[[Request], Awaitable[Any]]] | None = None,
                  **kw: Any) -> AsyncClient:
    """zccp.connect for asyncio; ``handlers`` may be coroutine functions."""
    loop = asyncio.get_running_loop()
    shell = AsyncClient.__new__(AsyncClient)
    shell._loop = loop
    if handlers:
        kw["handlers"] = {m: shell._bridge(fn) for m, fn in handlers.items()}
    shell.client = await asyncio.to_thread(functools.partial(_connect, endpoint, **kw))
    return shell
