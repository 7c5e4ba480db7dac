"""Requests and replies: Python ↔ Python, Python ↔ Go (zccp device / zccp call), groups."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import zccp
from harness import eventually, fill, load_peers, peer_env, start_peer, stop_peer


def wait_listed(c: zccp.Client, ident: str) -> None:
    eventually(lambda: any(x["identifier"] == ident for x in c.clients()), 10, f"{ident} to connect")


def test_request_reply_and_errors(endpoint, clients):
    dev = clients(endpoint, identifier="pdu-1")

    @dev.handle("outlet.off")
    def off(req: zccp.Request):
        return zccp.Reply(sender="", status="ok", headers={"outlet": req.body.decode()}, content=[b"off", b"done"])

    @dev.handle("broken")
    def broken(req: zccp.Request):
        raise RuntimeError("relay stuck")

    @dev.handle("refuse")
    def refuse(req: zccp.Request):
        raise zccp.ProtocolError("busy", "try later")

    app = clients(endpoint, identifier="app")
    r = app.request("pdu-1", "outlet.off", b"3", timeout=5)
    assert (r.sender, r.status, r.content, r.headers["outlet"]) == ("pdu-1", "ok", [b"off", b"done"], "3")
    with pytest.raises(zccp.DeviceError, match="relay stuck"):
        app.request("pdu-1", "broken", timeout=5)
    with pytest.raises(zccp.ProtocolError) as ei:
        app.request("pdu-1", "refuse", timeout=5)
    assert (ei.value.code, ei.value.reason, ei.value.sender) == ("busy", "try later", "pdu-1")
    with pytest.raises(zccp.NoSuchMethod):
        app.request("pdu-1", "nope", timeout=5)
    with pytest.raises(zccp.NoSuchClient):
        app.request("pdu-404", "outlet.off", timeout=5)


def test_timeout_cancels_and_progress_extends(endpoint, clients):
    dev = clients(endpoint, identifier="slow")
    cancelled = threading.Event()

    @dev.handle("wait")
    def wait(req: zccp.Request):
        if not req.cancelled.wait(10):
            return b"late"
        cancelled.set()
        raise zccp.Cancelled("cancelled", "stopped")

    @dev.handle("progress")
    def progress(req: zccp.Request):
        for i in range(4):
            time.sleep(0.1)
            req.progress(str(i))
        return b"finished"

    app = clients(endpoint, identifier="app")
    with pytest.raises(zccp.Timeout):
        app.request("slow", "wait", timeout=0.3)
    assert cancelled.wait(5), "the device was not told to cancel"
    seen: list[bytes] = []
    r = app.request("slow", "progress", timeout=1.5, ttl=10, on_progress=lambda p: seen.append(p.body))
    assert r.body == b"finished" and seen == [b"0", b"1", b"2", b"3"]


def test_device_refuses_a_request_whose_ttl_ran_out(endpoint, clients):
    dev = clients(endpoint, identifier="busy", workers=1)
    release = threading.Event()

    @dev.handle("block")
    def block(req):
        release.wait(5)
        return b"ok"
    app = clients(endpoint, identifier="app")
    first = threading.Thread(target=lambda: app.request("busy", "block", timeout=5))
    first.start()
    time.sleep(0.1)  # let the first occupy the only worker; the check below does not depend on it
    errs: list[BaseException] = []
    t = threading.Thread(target=lambda: errs.append(pytest.raises(zccp.ZccpError, app.request, "busy", "block",
                                                                   timeout=2, ttl=0.2).value))
    t.start()
    time.sleep(0.4)
    release.set()
    t.join(10)
    first.join(10)
    assert isinstance(errs[0], zccp.Expired), errs


def test_python_requester_to_go_device(endpoint, clients, bindir):
    dev = start_peer([str(bindir / "zccp"), "device", "--endpoint", endpoint, "--id", "go-dev", "--",
                      "sh", "-c", 'if [ "$ZCCP_METHOD" = fail ]; then echo broken >&2; exit 3; fi; cat'])
    try:
        app = clients(endpoint, identifier="py-app")
        wait_listed(app, "go-dev")
        r = app.request("go-dev", "echo", [b"part1-", b"part2"], timeout=5)
        assert r.body == b"part1-part2" and r.sender == "go-dev"
        with pytest.raises(zccp.DeviceError, match="exit status 3: broken"):
            app.request("go-dev", "fail", timeout=5)
    finally:
        stop_peer(dev)


def test_go_requester_to_python_device(endpoint, clients, bindir):
    dev = clients(endpoint, identifier="py-dev")

    @dev.handle("greet")
    def greet(req: zccp.Request):
        return b"hello " + req.body + b" from " + req.sender.encode()[:6]

    @dev.handle("fail")
    def fail(req):
        raise zccp.DeviceError("device-error", "no luck")

    out = subprocess.run([str(bindir / "zccp"), "call", "--endpoint", endpoint, "--id", "go-app",
                          "--timeout", "5s", "py-dev", "greet", "world"], capture_output=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert out.stdout == b"hello world from go-app\n"
    out = subprocess.run([str(bindir / "zccp"), "call", "--endpoint", endpoint, "--timeout", "5s",
                          "py-dev", "fail"], capture_output=True, timeout=20)
    assert out.returncode == 6 and b"no luck" in out.stderr, out


def test_group_call_receipt_replies_summary(endpoint, clients, bindir):
    go = start_peer([str(bindir / "zccp"), "device", "--endpoint", endpoint, "--id", "pdu-go",
                     "--subscribe", "^pdus$", "--label", "rack=1", "--", "echo", "go-status"])
    try:
        devs = []
        for name, rack in (("pdu-a", "1"), ("pdu-b", "1"), ("pdu-c", "2")):
            status = (lambda req, name=name: f"{name} fine" if name != "pdu-b" else 1 / 0)
            d = clients(endpoint, identifier=name, labels={"rack": rack}, handlers={"status": status})
            d.subscribe("^pdus$", lambda _: None)
            devs.append(d)
        tap = clients(endpoint, identifier="tap")  # subscribed, but not a device: never a member
        tap.subscribe("^pdus$")
        app = clients(endpoint, identifier="ops")
        # The Go device says HELLO, then subscribes: wait until it is in the group.
        dry = eventually(lambda: (g := app.request_group("pdus", "status", dry_run=True)) and
                         len(g.expected) == 4 and g, 10, "pdu-go to join the group")
        assert sorted(dry.expected) == ["pdu-a", "pdu-b", "pdu-c", "pdu-go"] and list(dry) == []
        assert dry.summary().missing == sorted(dry.expected)
        g = app.request_group("pdus", "status", labels={"rack": "1"}, timeout=5)
        assert sorted(g.expected) == ["pdu-a", "pdu-b", "pdu-go"]
        replies = {r.sender: r for r in g}
        assert replies["pdu-a"].body == b"pdu-a fine" and replies["pdu-go"].body == b"go-status\n"
        s = g.summary()
        assert sorted(s.ok) == ["pdu-a", "pdu-go"] and list(s.failed) == ["pdu-b"] and s.missing == []
        assert "division by zero" in s.failed["pdu-b"].reason
    finally:
        stop_peer(go)


def test_group_call_with_nobody_in_the_group(endpoint, clients):
    app = clients(endpoint, identifier="ops")
    g = app.request_group("empty-group", "status", timeout=2)
    assert g.expected == [] and list(g) == []
    assert g.summary() == zccp.Summary(expected=[])


def test_group_call_reports_missing_devices(endpoint, clients):
    quick = clients(endpoint, identifier="quick", serves=True)
    quick.handle("status", lambda req: b"ok")
    quick.subscribe("^grp$", lambda _: None)
    slow = clients(endpoint, identifier="sleepy", serves=True)
    slow.handle("status", lambda req: req.cancelled.wait(5) and b"late")
    slow.subscribe("^grp$", lambda _: None)
    app = clients(endpoint, identifier="ops")
    g = app.request_group("grp", "status", timeout=0.5)
    s = g.summary()
    assert s.ok == ["quick"] and s.missing == ["sleepy"]


def test_cross_language_matrix(broker, clients, bindir, caller, device):
    """Each language's caller against each language's device process (the
    table grows with $ZCCP_PEERS; see harness.load_peers)."""
    peers = load_peers(bindir)
    ep = broker.tcp
    ident = f"{device}-echo"
    dev = start_peer(fill(peers["devices"][device], endpoint=ep, id=ident))
    try:
        wait_listed(clients(ep, identifier="watch"), ident)
        out = subprocess.run(fill(peers["callers"][caller], endpoint=ep, id=ident, method="echo", body="ping-42"),
                             capture_output=True, timeout=30, env=peer_env())
        assert out.returncode == 0, out.stderr.decode()
        assert out.stdout.rstrip(b"\n") == b"ping-42"
    finally:
        stop_peer(dev)


def test_python_cli_exit_codes(broker, bindir):
    base = [sys.executable, "-m", "zccp", "call", "--endpoint", broker.tcp, "--timeout", "2"]
    out = subprocess.run([*base, "nobody", "x"], capture_output=True, timeout=20, env=peer_env())
    assert out.returncode == 4, out


def test_python_cli_exit_4_when_the_device_leaves(broker, clients, bindir, tmp_path):
    """A Go `zccp device` process killed while it runs the command: the
    broker's `disconnected` error reply makes the Python CLI exit 4, as
    the Go and C CLIs do."""
    mark = tmp_path / "started"
    dev = start_peer([str(bindir / "zccp"), "device", "--endpoint", broker.tcp, "--id", "leaver", "--",
                      "sh", "-c", f'touch "{mark}"; exec sleep 30'])
    try:
        wait_listed(clients(broker.tcp, identifier="watch"), "leaver")
        call = subprocess.Popen([sys.executable, "-m", "zccp", "call", "--endpoint", broker.tcp, "--timeout", "20",
                                 "leaver", "x"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=peer_env())
        try:
            eventually(mark.exists, 10, "the device to start the command")
            os.killpg(dev.pid, signal.SIGKILL)
            _, err = call.communicate(timeout=20)
        finally:
            if call.poll() is None:
                call.kill()
                call.wait()
        assert call.returncode == 4 and b"disconnected" in err, (call.returncode, err)
    finally:
        stop_peer(dev)
