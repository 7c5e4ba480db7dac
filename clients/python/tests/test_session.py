"""Keeping the session: broker restarts, INVALID, idleness, slow handlers."""

from __future__ import annotations

import subprocess
import time

import pytest

import zccp
from zccp import codec
from harness import eventually


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_broker_restart_restores_subscriptions(broker, clients, transport):
    ep = broker.endpoint(transport)
    errs: list[BaseException] = []
    sub = clients(ep, identifier="survivor", on_error=errs.append)
    s = sub.subscribe(r"^after\.")
    first_session = sub.session
    broker.restart()  # SIGKILL, then a new zccpd on the same endpoints
    eventually(lambda: sub.sessions == 2 and sub.state is zccp.State.CONNECTED, 15, "a new session")
    assert sub.session != first_session or sub.sessions == 2
    assert any(isinstance(e, zccp.ConnectionLost) for e in errs), errs
    pub = clients(ep, identifier="pub")

    def delivered() -> bool:  # the SUBSCRIBE may still be on its way: publish until one arrives
        pub.publish("after.restart", b"x")
        return s.get(0.1).address == "after.restart"
    eventually(delivered, 10, "a delivery on the restored subscription")


def test_invalid_makes_the_client_say_hello_again(broker, clients):
    errs: list[BaseException] = []
    c = clients(broker.tcp, identifier="confused", on_error=errs.append)
    s = c.subscribe("topic")
    # Make the broker forget the session: a command only the broker may
    # send (bad-sequence notice, then INVALID).
    c._submit(c._send_ctl, codec.encode(codec.SUBSCRIBE_OK))
    eventually(lambda: c.sessions == 2, 10, "a second HELLO-OK")
    pub = clients(broker.tcp, identifier="pub")

    def delivered() -> bool:
        pub.publish("topic", b"again")
        return s.get(0.1).body == b"again"
    eventually(delivered, 10, "the restored subscription")
    codes = [getattr(e, "code", "") for e in errs]
    assert "bad-sequence" in codes and any(isinstance(e, zccp.ConnectionLost) for e in errs), errs


def test_idle_client_outlives_the_broker_timeout(broker_factory, clients):
    b = broker_factory("--timeout", "1200ms", "--ping-interval", "200ms")
    # No ZMTP heartbeats: only the answers to the broker's PINGs keep it.
    idle = clients(b.ipc, identifier="idle", heartbeat=0)
    s = idle.subscribe("wake")
    assert idle.info["zccp-timeout"] == "1200"
    time.sleep(3)  # the behaviour under test: three timeouts of saying nothing
    pub = clients(b.ipc, identifier="pub")
    pub.publish("wake", b"up")
    assert s.get(5).body == b"up"
    assert idle.sessions == 1 and idle.state is zccp.State.CONNECTED


def test_handler_slower_than_the_timeout_keeps_its_session(broker_factory, clients, bindir):
    b = broker_factory("--timeout", "1200ms", "--ping-interval", "200ms")
    dev = clients(b.tcp, identifier="slowpoke", heartbeat=0)

    @dev.handle("slow")
    def slow(req: zccp.Request):
        time.sleep(3.0)
        return b"worth the wait"
    out = subprocess.run([str(bindir / "zccp"), "call", "--endpoint", b.tcp, "--timeout", "10s",
                          "slowpoke", "slow"], capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout == b"worth the wait\n"
    assert dev.sessions == 1


def test_taken_over_is_final(broker, clients):
    errs: list[BaseException] = []
    old = clients(broker.tcp, identifier="unique", on_error=errs.append)
    new = clients(broker.tcp, identifier="unique")
    assert new.info.get("zccp-replaced") == "1"
    eventually(lambda: old.state is zccp.State.CLOSED, 5, "the old client to stop")
    eventually(lambda: any(isinstance(e, zccp.TakenOver) for e in errs), 5, "the TakenOver error")
    with pytest.raises(zccp.Closed):
        old.publish("x", b"y")
    time.sleep(0.3)  # and it does not come back to take the identifier again
    assert new.state is zccp.State.CONNECTED and new.sessions == 1


def test_connect_to_nothing_fails_clearly(broker):
    port_free = broker.tcp.rsplit(":", 1)[0] + ":1"
    with pytest.raises(zccp.ConnectError, match="no session within"):
        zccp.connect(port_free, identifier="x", timeout=0.5)


def test_publications_wait_for_the_session(broker, clients):
    pub = clients(broker.tcp, identifier="pub")
    broker.stop()
    eventually(lambda: pub.state is zccp.State.RECONNECTING, 10, "the publisher to notice")
    for i in range(5):
        pub.publish("buffered", str(i))
    broker.start()
    eventually(lambda: pub.state is zccp.State.CONNECTED, 15, "a new session")
    # The new session's statistics count the buffered PUBLISHes.
    stats = pub.close()
    assert stats is not None and stats["zccp-published"] == "5", stats


def test_request_ids_differ_between_clients(broker, clients):
    a = clients(broker.tcp, identifier="a")
    b = clients(broker.tcp, identifier="a2")
    assert a._req_prefix != b._req_prefix and len(a._req_prefix) == 13
