"""How the client behaves when the broker misbehaves, against a fake
broker: a pyzmq ROUTER scripted by each test."""

from __future__ import annotations

import threading
import time
from typing import Callable

import pytest
import zmq

import zccp
from zccp import codec
from harness import eventually

Policy = Callable[[codec.Message], list[list[bytes]]]

HELLO_OK = codec.encode(codec.HELLO_OK, headers={"zccp-extensions": "ping", "zccp-ping-interval": "100000"})
INVALID = codec.encode(codec.INVALID)


class FakeBroker:
    def __init__(self, policy: Policy, endpoint: str = "") -> None:
        self.policy = policy
        self.seen: list[tuple[float, str]] = []
        self.rid = b""  # the routing id of the last message (a policy may send to it itself)
        self.sock = zmq.Context.instance().socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if endpoint:
            self.sock.bind(endpoint)
            self.endpoint = endpoint
        else:
            port = self.sock.bind_to_random_port("tcp://127.0.0.1")
            self.endpoint = f"tcp://127.0.0.1:{port}"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop.is_set():
            if not self.sock.poll(50):
                continue
            rid, *frames = self.sock.recv_multipart()
            self.rid = rid
            m = codec.decode(frames)
            self.seen.append((time.monotonic(), m.name))
            for reply in self.policy(m):
                self.sock.send_multipart([rid, *reply])
        self.sock.close(0)

    def count(self, name: str) -> int:
        return sum(1 for _, n in self.seen if n == name)


@pytest.fixture
def fake():
    made: list[FakeBroker] = []

    def make(policy: Policy, endpoint: str = "") -> FakeBroker:
        f = FakeBroker(policy, endpoint)
        made.append(f)
        return f
    yield make
    for f in made:
        f.stop.set()
        f.thread.join(5)


def test_no_hello_storm_when_every_session_is_forgotten(fake):
    f = fake(lambda m: [HELLO_OK, INVALID] if m.id == codec.HELLO else [])
    c = zccp.connect(f.endpoint, identifier="stormy", timeout=5)
    try:
        time.sleep(2.5)  # the behaviour under test: how often it says HELLO in this time
        n = f.count("HELLO")
        # Immediate re-HELLO once, then 0.1 s doubling (±25 %): about 6 in
        # 2.5 s; without backoff it would be hundreds.
        assert 3 <= n <= 10, n
    finally:
        c.close(timeout=0.5)


def test_hello_without_answer_is_retried_slowly(fake):
    f = fake(lambda m: [])
    with pytest.raises(zccp.ConnectError, match="no session within 2"):
        zccp.connect(f.endpoint, identifier="unanswered", timeout=2, hello_retry=0.2)
    # HELLOs at 0, 0.2, 0.6, 1.4 s (doubling)
    assert 3 <= f.count("HELLO") <= 5, f.seen


def test_invalid_while_waiting_for_hello_ok_is_ignored(fake):
    f = fake(lambda m: [INVALID, HELLO_OK] if m.id == codec.HELLO else [])
    with zccp.connect(f.endpoint, identifier="patient", timeout=5) as c:
        time.sleep(0.5)  # would a second HELLO follow?
        assert f.count("HELLO") == 1 and c.sessions == 1 and c.state is zccp.State.CONNECTED


def test_silence_is_probed_and_a_forgotten_session_restored(fake):
    hello_ok = codec.encode(codec.HELLO_OK, headers={"zccp-extensions": "ping", "zccp-ping-interval": "100"})
    forgot = threading.Event()

    def policy(m: codec.Message) -> list[list[bytes]]:
        if m.id == codec.HELLO:
            return [hello_ok]
        if m.id == codec.PING:  # a connection without a session answers INVALID
            forgot.set()
            return [INVALID]
        return []
    f = fake(policy)
    with zccp.connect(f.endpoint, identifier="prober", timeout=5, heartbeat=0) as c:
        eventually(lambda: c.sessions == 2, 5, "a second session after the probe")
        names = [n for _, n in f.seen]
        assert names[:3] == ["HELLO", "PING", "HELLO"], names


def test_request_buffered_when_the_session_is_lost_is_never_sent(fake):
    """A request whose DIRECT still waits in the client's buffer when the
    session is lost fails with ConnectionLost, and is dropped: the next
    session does not send it (the caller was told it failed). The fake
    broker stops reading (the client's buffers fill up behind a publish),
    then forgets the session (INVALID), then reads on and says HELLO-OK."""
    log: list[tuple[str, str]] = []
    kick, go = threading.Event(), threading.Event()

    def policy(m: codec.Message) -> list[list[bytes]]:
        log.append((m.name, m.address))
        if m.id == codec.HELLO:
            return [HELLO_OK]
        if m.id == codec.PUBLISH and m.address == "stall":
            kick.wait(20)
            f.sock.send_multipart([f.rid, *INVALID])  # this thread owns the socket
            go.wait(20)
        return []
    # ipc: small socket buffers, so that the client's own buffer fills soon.
    f = fake(policy, f"ipc://@/zccp-py-lost-{time.monotonic_ns()}")
    with zccp.connect(f.endpoint, identifier="py-req", timeout=5, heartbeat=0, buffer=100000) as c:
        c.publish("stall")
        for _ in range(5000):  # beyond libzmq's two pipes (1000 messages each) and the socket buffers
            c.publish("fill", b"x" * 2048)
        errs: list[BaseException] = []

        def call() -> None:
            try:
                c.request("dev", "old", timeout=30)
            except BaseException as e:
                errs.append(e)
        t = threading.Thread(target=call)
        t.start()
        eventually(lambda: len(c._calls) == 1, 10, "the request registered")
        c.publish("after-request")
        kick.set()
        t.join(20)
        assert len(errs) == 1 and isinstance(errs[0], zccp.ConnectionLost), errs
        go.set()
        eventually(lambda: c.sessions == 2, 20, "a second session")
        c.publish("end")
        eventually(lambda: ("PUBLISH", "end") in log, 20, "the last publish")
    hellos = [i for i, e in enumerate(log) if e[0] == "HELLO"]
    assert len(hellos) == 2, hellos
    # The publish made after the request went in the second session: the
    # request was still buffered when the session was lost.
    assert log.index(("PUBLISH", "after-request")) > hellos[1], "the client's buffer did not fill"
    assert not [e for e in log if e[0] == "DIRECT"], "the failed request was sent"
