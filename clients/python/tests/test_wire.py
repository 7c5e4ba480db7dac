"""What docs/protocol.md §8 tells client authors, checked on the wire with
bare pyzmq DEALERs (no client library in between)."""

from __future__ import annotations

import time

import pytest
import zmq

from zccp import codec


class Raw:
    def __init__(self, endpoint: str, **opts: int) -> None:
        self.s = zmq.Context.instance().socket(zmq.DEALER)
        self.s.setsockopt(zmq.LINGER, 0)
        self.s.setsockopt(zmq.RCVTIMEO, 5000)
        for k, v in opts.items():
            self.s.setsockopt(getattr(zmq, k), v)
        self.s.connect(endpoint)

    def send(self, id: int, **kw) -> None:
        self.s.send_multipart(codec.encode(id, **kw))

    def recv(self, skip_pings: bool = True) -> codec.Message:
        while True:
            m = codec.decode(self.s.recv_multipart())
            if not (skip_pings and m.id == codec.PING):
                return m

    def hello(self, ident: str, **labels: str) -> codec.Message:
        self.send(codec.HELLO, identifier=ident, headers=labels)
        m = self.recv()
        assert m.id == codec.HELLO_OK, m
        return m

    def close(self) -> None:
        self.s.close(0)


@pytest.fixture
def raw():
    made: list[Raw] = []

    def make(endpoint: str, **opts: int) -> Raw:
        r = Raw(endpoint, **opts)
        made.append(r)
        return r
    yield make
    for r in made:
        r.close()


def test_no_empty_delimiter_frame(broker, raw):
    r = raw(broker.tcp)
    r.hello("d")
    r.s.send_multipart([b"", codec.encode(codec.PUBLISH, address="a")[0]])  # as a REQ socket would
    m = r.recv()
    assert (m.id, m.sender, m.headers.get("zccp-error")) == (codec.DELIVER, "$zccp", "malformed")
    assert r.recv().id == codec.INVALID


def test_invalid_before_hello_ok_then_hello_ok(broker, raw):
    """Something sent before HELLO is answered INVALID, and HELLO-OK follows:
    a client waiting for HELLO-OK must ignore that INVALID."""
    r = raw(broker.tcp)
    r.send(codec.PUBLISH, address="early")
    r.send(codec.HELLO, identifier="late")
    assert [r.recv().id, r.recv().id] == [codec.INVALID, codec.HELLO_OK]


def test_zmtp_heartbeats_keep_a_client_that_does_not_read(broker_factory, raw):
    b = broker_factory("--timeout", "700ms", "--ping-interval", "200ms")
    beating = raw(b.tcp, HEARTBEAT_IVL=150, HEARTBEAT_TIMEOUT=5000)
    silent = raw(b.tcp)
    beating.hello("beating")
    silent.hello("silent")
    time.sleep(2)  # neither application reads or sends: only libzmq's heartbeats flow
    for r in (beating, silent):
        r.send(codec.SUBSCRIBE, expression="x")
    assert beating.recv().id == codec.SUBSCRIBE_OK      # its session lived; the PINGs waited unread
    assert silent.recv().id == codec.INVALID            # expired; libzmq reconnected without a word


def test_ttl_travels_as_ten_digits_and_bad_ttl_is_refused(broker, raw):
    dev, app = raw(broker.tcp), raw(broker.tcp)
    dev.hello("ttl-dev")
    app.hello("ttl-app")
    app.send(codec.DIRECT, address="ttl-dev", headers={"zccp-request-id": "1", "zccp-method": "m", "zccp-ttl": "1500"})
    m = dev.recv()
    ttl = m.headers["zccp-ttl"]
    assert len(ttl) == 10 and ttl.isdigit() and 0 < int(ttl) <= 1500, ttl
    app.send(codec.DIRECT, address="ttl-dev", headers={"zccp-request-id": "2", "zccp-method": "m", "zccp-ttl": "1.5s"})
    m = app.recv()
    assert (m.sender, m.headers["zccp-reply-to"], m.headers["zccp-status"], m.headers["zccp-error"]) == \
        ("$zccp", "2", "error", "bad-request")


def test_select_and_dry_run(broker, raw):
    a, b, app = raw(broker.tcp), raw(broker.tcp), raw(broker.tcp)
    serves = {"zccp-serves": "1"}  # group members declare themselves
    a.hello("sel-a", rack="1", role="a=b", **serves)
    b.hello("sel-b", rack="12", **serves)
    app.hello("sel-app")
    # No escaping: a pair splits at its first '='; a value may hold '=', not ','.
    app.send(codec.PUBLISH, address="", headers={"zccp-request-id": "g1", "zccp-method": "m",
                                                 "zccp-select": "rack=1,role=a=b", "zccp-dry-run": "1"})
    m = app.recv()
    assert (m.address, m.headers["zccp-recipients"], m.headers["zccp-dry-run"], m.content) == \
        ("$zccp.receipt", "1", "1", [b"sel-a"])
    # dry-run belongs to group requests: on a DIRECT it is ignored and the request is delivered.
    app.send(codec.DIRECT, address="sel-b", headers={"zccp-request-id": "d1", "zccp-method": "m", "zccp-dry-run": "1"})
    m = b.recv()
    assert m.headers["zccp-request-id"] == "d1"
    # A group with nobody in it: count 0 and one empty frame.
    app.send(codec.PUBLISH, address="", headers={"zccp-request-id": "g2", "zccp-method": "m", "zccp-select": "rack=9"})
    m = app.recv()
    assert (m.headers["zccp-recipients"], m.content) == ("0", [b""])


def test_goodbye_counts(broker, raw):
    r, peer = raw(broker.tcp), raw(broker.tcp)
    peer.hello("gb-peer")
    r.hello("gb")
    r.send(codec.SUBSCRIBE, expression="a")
    assert r.recv().id == codec.SUBSCRIBE_OK
    r.send(codec.PUBLISH, address="a")
    r.send(codec.PUBLISH, address="$reserved")          # refused: not counted
    r.send(codec.DIRECT, address="gb-peer")
    r.send(codec.DIRECT, address="nobody")               # counted, and a notice goes back
    assert r.recv().headers["zccp-error"] == "reserved"
    assert r.recv().headers["zccp-error"] == "no-such-client"
    r.send(codec.GOODBYE)
    m = r.recv()
    assert m.id == codec.GOODBYE_OK
    h = m.headers
    assert (h["zccp-published"], h["zccp-directs"], h["zccp-subscriptions"], h["zccp-dropped"]) == ("1", "2", "1", "0")
    # delivered: the DELIVERs of this session (the 2 notices), not
    # HELLO-OK, SUBSCRIBE-OK or PINGs.
    assert h["zccp-delivered"] == "2"


def test_zmtp_ping_between_the_frames_of_a_message(broker, raw):
    """libzmq sends its heartbeat PING when its timer fires, also between
    two frames of one message; the broker must take both (it used to drop
    the connection: 'command frame inside a multipart message')."""
    sub, pub = raw(broker.tcp), raw(broker.tcp, HEARTBEAT_IVL=1, HEARTBEAT_TIMEOUT=5000)
    sub.hello("hb-sub")
    sub.send(codec.SUBSCRIBE, expression="^hb$")
    assert sub.recv().id == codec.SUBSCRIBE_OK
    mon = pub.s.get_monitor_socket(zmq.EVENT_DISCONNECTED)
    try:
        pub.hello("hb-pub")
        n = 3000
        msg = codec.encode(codec.PUBLISH, address="hb", content=[b"a" * 60, b"b" * 60])
        for _ in range(n):
            pub.s.send_multipart(msg)
        got = 0
        while got < n:
            m = sub.recv()
            assert m.id == codec.DELIVER and m.content == [b"a" * 60, b"b" * 60], m
            got += 1
        assert not mon.poll(0), "the publisher's connection was dropped"
    finally:
        pub.s.disable_monitor()
        mon.close(0)
