"""The asyncio façade, on a real zccpd."""

from __future__ import annotations

import asyncio

import zccp
from zccp import aio


def test_asyncio_pubsub_request_and_async_handler(broker):
    async def main() -> None:
        async def upper(req: zccp.Request) -> bytes:
            await asyncio.sleep(0.01)
            return req.body.upper()

        async with await aio.connect(broker.tcp, identifier="adev", labels={"zone": "x"},
                                   handlers={"upper": upper}) as dev, \
                await aio.connect(broker.ipc, identifier="aapp") as app:
            sub = await app.subscribe(r"^news\.")
            dev.publish("news.today", [b"a", b"b"], headers={"h": "1"})
            d = await asyncio.wait_for(sub.get(), 5)
            assert (d.sender, d.address, d.content, d.headers) == ("adev", "news.today", [b"a", b"b"], {"h": "1"})
            r = await app.request("adev", "upper", b"shout", timeout=5)
            assert r.body == b"SHOUT"
            g = await app.request_group("", "upper", b"all", labels={"zone": "x"}, timeout=5)
            assert g.expected == ["adev"]
            assert [(r.sender, r.body) async for r in g] == [("adev", b"ALL")]
            assert (await g.summary()).ok == ["adev"]
    asyncio.run(main())
