"""CURVE with pyzmq against a real zccpd (a curve+tcp:// bind with
--enrol): an unknown key is pending (refused a session), accepted with
the zccp CLI, then has a session and deliveries; its identifier is bound
to it; a wrong server key gets no session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import zmq

import zccp
from harness import Broker, free_port

pytestmark = pytest.mark.skipif(not zmq.has("curve"), reason="libzmq without CURVE")


@pytest.fixture
def curve_broker(broker_factory, bindir: Path, tmp_path: Path) -> tuple[Broker, str, str]:
    data = tmp_path / "data"
    server = subprocess.run([str(bindir / "zccpd"), "key", "--data-dir", str(data)], check=True,
                            capture_output=True, text=True).stdout.strip()
    ep = f"curve+tcp://127.0.0.1:{free_port()}"
    b = broker_factory("--bind", ep, "--enrol", "--data-dir", str(data))
    return b, ep, server


def zccp_cli(bindir: Path, broker: Broker, *args: str, key: str = "") -> str:
    """Runs the Go CLI; key goes after "--" (a Z85 key may start with "-")."""
    argv = [str(bindir / "zccp"), *args, "--endpoint", broker.ipc]
    if key:
        argv += ["--", key]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_curve_enrolment_session_and_delivery(curve_broker, bindir, clients, tmp_path):
    b, ep, server = curve_broker
    keys = zccp.curve_keypair()
    with pytest.raises(zccp.ConnectError, match="pending"):
        zccp.connect(ep, identifier="py-dev", server_key=server, client_keys=keys, timeout=1.5)
    listed = zccp_cli(bindir, b, "keys", "list", "--state", "pending")
    assert keys.public in listed and "py-dev" in listed
    assert '"owns":["py-dev"]' in zccp_cli(bindir, b, "keys", "accept", "--json", key=keys.public)

    dev = clients(ep, identifier="py-dev", server_key=server, client_keys=keys)
    assert dev.public_key == keys.public
    sub = dev.subscribe(r"^cmd\.py-dev$")
    plain = clients(b.tcp, identifier="null-pub")  # NULL on loopback, same broker
    plain.publish("cmd.py-dev", b"on")
    assert sub.get(5).content == [b"on"]
    got = plain.subscribe(r"^metrics\.")
    dev.publish("metrics.py-dev", b"42")
    d = got.get(5)
    assert (d.sender, d.body) == ("py-dev", b"42")
    # Its identifier is bound to its key: another identifier is refused,
    # and another key cannot take py-dev.
    with pytest.raises(zccp.ConnectError, match="not among"):
        zccp.connect(ep, identifier="py-other", server_key=server, client_keys=keys, timeout=1.5)
    thief = zccp.curve_keypair()
    zccp_cli(bindir, b, "keys", "accept", "--ident", "py-*", key=thief.public)
    with pytest.raises(zccp.ConnectError, match="belongs to another"):
        zccp.connect(ep, identifier="py-dev", server_key=server, client_keys=thief, timeout=1.5)


def test_curve_key_file_and_wrong_server_key(curve_broker, bindir, clients, tmp_path):
    b, ep, server = curve_broker
    path = tmp_path / "curve.key"
    public = subprocess.run([str(bindir / "zccp"), "keygen", "--key-file", str(path)], check=True,
                            capture_output=True, text=True).stdout.strip()
    keys = zccp.read_key_file(path)
    assert keys.public == public
    zccp_cli(bindir, b, "keys", "accept", "--ident", "py-file", key=public)
    c = clients(ep, identifier="py-file", server_key=server, client_keys=keys)
    assert c.state is zccp.State.CONNECTED
    with pytest.raises(zccp.ConnectError):
        zccp.connect(ep, identifier="py-file", server_key=zccp.curve_keypair().public, client_keys=keys, timeout=1)
    with pytest.raises(ValueError):
        zccp.connect(ep, identifier="x")  # curve+ without server_key
    with pytest.raises(ValueError):
        zccp.connect(ep, identifier="x", server_key="short")


def test_curve_go_caller_python_device(curve_broker, bindir, tmp_path):
    """A request across languages, both over CURVE: the Go CLI (zccp call
    --server-key --key-file) to a Python device (python3 -m zccp device
    with the same flags), each key accepted for its identifier first."""
    from harness import start_peer, stop_peer
    b, ep, server = curve_broker
    files = {}
    for who in ("py", "go"):
        files[who] = tmp_path / f"{who}.key"
        public = subprocess.run([str(bindir / "zccp"), "keygen", "--key-file", str(files[who])], check=True,
                                capture_output=True, text=True).stdout.strip()
        zccp_cli(bindir, b, "keys", "accept", "--ident", f"{who}-echo*", key=public)
    dev = start_peer([sys.executable, "-m", "zccp", "device", "--endpoint", ep, "--id", "py-echo-1",
                      "--server-key", server, "--key-file", str(files["py"])])
    try:
        assert dev.stdout is not None and dev.stdout.readline().strip() == b"ready"
        r = subprocess.run([str(bindir / "zccp"), "call", "--endpoint", ep, "--server-key", server, "--key-file",
                            str(files["go"]), "--id", "go-echo-1", "--timeout", "5s", "py-echo-1", "m", "over curve"],
                           capture_output=True, text=True, timeout=30)
        assert (r.returncode, r.stdout) == (0, "over curve\n"), r.stderr
    finally:
        stop_peer(dev)
