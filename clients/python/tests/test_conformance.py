"""Conformance of any library's device process (harness.load_peers; add
yours with $ZCCP_PEERS): requests answered exactly, a retried request
answered the same, and the session kept across an idle period longer
than the broker's timeout."""

from __future__ import annotations

import time

from harness import eventually, fill, load_peers, start_peer, stop_peer


def test_device_conformance(broker_factory, clients, bindir, device):
    peers = load_peers(bindir)
    b = broker_factory("--timeout", "1200ms", "--ping-interval", "200ms")
    ident = f"conform-{device}"
    proc = start_peer(fill(peers["devices"][device], endpoint=b.tcp, id=ident))
    try:
        app = clients(b.ipc, identifier="conformance")

        def record() -> dict:
            return next(x for x in app.clients() if x["identifier"] == ident)
        session = eventually(record, 10, f"{ident} to connect")["session"]

        # An echo with several frames and an application header.
        r = app.request(ident, "echo", [b"frame-1 ", b"frame-2"], headers={"x-app": "1"}, timeout=5)
        assert r.sender == ident and r.status == "ok"
        assert b"".join(r.content) == b"frame-1 frame-2"
        assert r.headers["zccp-reply-to"].startswith(app._req_prefix)

        # A retry (same requester, same id) is answered, with the same body.
        rid = f"{app._req_prefix}retry"
        p = app._register_id(rid)
        try:
            h = {"zccp-request-id": rid, "zccp-method": "echo", "zccp-ttl": "5000"}
            app.direct(ident, b"once", h)
            first = p.q.get(timeout=5)
            app.direct(ident, b"once", h)
            again = p.q.get(timeout=5)
            assert (first.status, first.body) == (again.status, again.body) == ("ok", b"once")
        finally:
            app._unregister(rid)

        # Idle for more than two broker timeouts: the device keeps its session.
        time.sleep(2.6)
        assert record()["session"] == session
        assert app.request(ident, "echo", b"still here", timeout=5).body.rstrip(b"\n") == b"still here"
    finally:
        stop_peer(proc)
