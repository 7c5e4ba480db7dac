"""Publish/subscribe, DIRECT and notices through a real zccpd."""

from __future__ import annotations

import threading

import pytest
import zmq

import zccp
from zccp import codec
from harness import eventually


def test_pubsub_headers_and_frames(endpoint, clients):
    sub = clients(endpoint, identifier="sub")
    pub = clients(endpoint, identifier="pub")
    s = sub.subscribe(r"^power\.rack1\.")
    frames = [b"412", b"", b"\x00\xff binary", b"x" * 70000]
    headers = {"unit": "W", "note": "caf\u00e9 \u2603", "raw": "a\x00b"}
    pub.publish("power.rack1.pdu3", frames, headers=headers)
    pub.publish("power.rack2.pdu3", b"not for sub")
    pub.publish("power.rack1.pdu4", "text body")
    d = s.get(5)
    assert (d.sender, d.address, d.headers, d.content) == ("pub", "power.rack1.pdu3", headers, frames)
    d2 = s.get(5)
    assert (d2.address, d2.content, d2.text) == ("power.rack1.pdu4", [b"text body"], "text body")
    with pytest.raises(zccp.Timeout):
        s.get(0.2)


def test_callback_subscription_in_order(endpoint, clients):
    sub = clients(endpoint, identifier="sub")
    pub = clients(endpoint, identifier="pub")
    got: list[bytes] = []
    done = threading.Event()

    def on(d: zccp.Delivery) -> None:
        got.append(d.body)
        if len(got) == 200:
            done.set()
    sub.subscribe("tick", on)
    for i in range(200):
        pub.publish("tick", str(i))
    assert done.wait(10), f"got {len(got)} of 200"
    assert got == [str(i).encode() for i in range(200)]


def test_once_only_with_overlapping_subscriptions(endpoint, clients):
    sub = clients(endpoint, identifier="sub")
    pub = clients(endpoint, identifier="pub")
    a = sub.subscribe(r"H.*O")
    b = sub.subscribe(r"HELLO")
    a2 = sub.subscribe(r"H.*O")   # same expression twice: stored once by the broker
    pub.publish("(HELLO, WORLD)", b"TEST")
    pub.publish("HELLO-end", b"")
    for s in (a, b, a2):
        d = s.get(5)
        assert (d.sender, d.address, d.body) == ("pub", "(HELLO, WORLD)", b"TEST")
        end = s.get(5)
        assert end.address == "HELLO-end"
        with pytest.raises(zccp.Timeout):
            s.get(0.1)
    stats = sub.close()
    # The repeated expression was not sent again (the broker holds 2), and
    # the broker queued this session exactly two DELIVERs: one per PUBLISH.
    assert stats is not None and stats["zccp-subscriptions"] == "2", stats
    assert stats["zccp-delivered"] == "2", stats


def test_broker_delivers_once_to_a_raw_dealer(endpoint, clients):
    """The original's self-test, with a bare pyzmq DEALER as the subscriber."""
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, 5000)
    s.connect(endpoint)
    try:
        s.send_multipart(codec.encode(codec.PUBLISH, address="x"))
        assert codec.decode(s.recv_multipart()).id == codec.INVALID  # PUBLISH before HELLO
        s.send_multipart(codec.encode(codec.HELLO, identifier="raw"))
        assert codec.decode(s.recv_multipart()).id == codec.HELLO_OK
        for e in ("H.*O", "H.*O", "HELLO"):
            s.send_multipart(codec.encode(codec.SUBSCRIBE, expression=e))
            assert codec.decode(s.recv_multipart()).id == codec.SUBSCRIBE_OK
        pub = clients(endpoint, identifier="B")
        pub.publish("(HELLO, WORLD)", b"TEST")
        pub.publish("HELLO-marker", b"end")
        seen = []
        while True:
            m = codec.decode(s.recv_multipart())
            if m.id == codec.PING:
                s.send_multipart(codec.encode(codec.PING_OK))
                continue
            seen.append((m.name, m.sender, m.address, m.content))
            if m.address == "HELLO-marker":
                break
        assert seen == [("DELIVER", "B", "(HELLO, WORLD)", [b"TEST"]), ("DELIVER", "B", "HELLO-marker", [b"end"])]
    finally:
        s.close(0)


def test_direct_and_no_such_client_notice(endpoint, clients):
    got: list[zccp.Delivery] = []
    errs: list[BaseException] = []
    a = clients(endpoint, identifier="dev-a", on_direct=got.append)
    b = clients(endpoint, identifier="dev-b", on_error=errs.append)
    b.direct("dev-a", [b"one", b"two"], headers={"k": "v"})
    eventually(lambda: got, 5, "the DIRECT")
    assert (got[0].sender, got[0].address, got[0].headers, got[0].content) == \
        ("dev-b", "dev-a", {"k": "v"}, [b"one", b"two"])
    b.direct("nobody-here", b"x")
    eventually(lambda: errs, 5, "the no-such-client notice")
    assert isinstance(errs[0], zccp.NoSuchClient) and errs[0].address == "nobody-here"
    assert a.state is zccp.State.CONNECTED and b.state is zccp.State.CONNECTED


def test_direct_iterator_without_callback(endpoint, clients):
    a = clients(endpoint, identifier="it-a")
    b = clients(endpoint, identifier="it-b")
    b.direct("it-a", b"hello")
    d = a.directs.get(5)
    assert (d.sender, d.body) == ("it-b", b"hello")


def test_bad_expression_refused(endpoint, clients):
    c = clients(endpoint, identifier="bad")
    with pytest.raises(zccp.BadExpression):
        c.subscribe("a[b")          # refused locally: missing ]
    with pytest.raises(zccp.BadExpression):
        c.subscribe("(a*)*")        # only the broker refuses this one (it would loop zrex)
    s = c.subscribe("fine")         # the session goes on
    assert s.expression == "fine"


def test_reserved_address_notice(endpoint, clients):
    errs: list[BaseException] = []
    c = clients(endpoint, identifier="r", on_error=errs.append)
    c.publish("$zccp.fake", b"x")
    eventually(lambda: errs, 5, "the reserved notice")
    assert isinstance(errs[0], zccp.Reserved)


def test_presence_events_need_a_dollar_expression(endpoint, clients):
    watcher = clients(endpoint, identifier="watch")
    events = watcher.subscribe(r"^\$zccp\.presence\.")
    everything = watcher.subscribe(".*")
    clients(endpoint, identifier="newcomer", labels={"kind": "pdu"})
    d = events.get(5)
    assert d.address == "$zccp.presence.join" and d.headers["zccp-identifier"] == "newcomer"
    assert d.headers["kind"] == "pdu"
    with pytest.raises(zccp.Timeout):
        everything.get(0.2)


def test_cancel_subscription(endpoint, clients):
    sub = clients(endpoint, identifier="sub")
    pub = clients(endpoint, identifier="pub")
    s = sub.subscribe("topic")
    keep = sub.subscribe("other")
    s.cancel()
    assert list(s) == []  # ended
    pub.publish("topic", b"1")
    pub.publish("other", b"2")
    assert keep.get(5).body == b"2"
    assert sub.close()["zccp-subscriptions"] == "1"
