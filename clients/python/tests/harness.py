"""Test harness shared by this suite and by other languages' suites: a
real zccpd started on a free tcp port and a unique abstract ipc name,
processes started by id, and a bounded ``eventually``.

Reuse from elsewhere: ``sys.path.insert(0, "clients/python/tests")`` and
``from harness import Broker, build_binaries, start_peer``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Sequence

ROOT = Path(__file__).resolve().parents[3]          # the repository
PYTHON_DIR = Path(__file__).resolve().parents[1]    # clients/python


def go_binary() -> str:
    for cand in (os.environ.get("GO"), shutil.which("go"), "/usr/local/go/bin/go"):
        if cand and Path(cand).exists():
            return cand
    raise RuntimeError("no Go toolchain found (set GO=/path/to/go)")


def build_binaries(out: Path) -> Path:
    """zccpd and zccp built from this repository into out (or taken from
    $ZCCP_BIN_DIR when set, e.g. the Makefile's bin/)."""
    pre = os.environ.get("ZCCP_BIN_DIR")
    if pre and (Path(pre) / "zccpd").exists() and (Path(pre) / "zccp").exists():
        return Path(pre).resolve()
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([go_binary(), "build", "-o", str(out) + "/", "./cmd/zccpd", "./cmd/zccp"],
                   cwd=ROOT, check=True)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def eventually(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll check() until it returns something truthy (returned), or fail
    after timeout seconds. Exceptions from check count as 'not yet'."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            v = check()
            if v:
                return v
        except Exception as e:  # not yet
            last = e
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}" + (f" (last error: {last})" if last else ""))


class Broker:
    """A zccpd subprocess bound to a tcp and an abstract ipc endpoint."""

    def __init__(self, bindir: Path, args: Sequence[str] = (), log: Path | None = None) -> None:
        self.bindir = bindir
        self.args = list(args)
        self.tcp = f"tcp://127.0.0.1:{free_port()}"
        self.ipc = f"ipc://@/zccp-pytest-{uuid.uuid4().hex[:12]}"
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def endpoint(self, transport: str) -> str:
        return self.tcp if transport == "tcp" else self.ipc

    def start(self) -> "Broker":
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [str(self.bindir / "zccpd"), "--bind", self.tcp, "--bind", self.ipc, "--log-level", "warn", *self.args],
            stdout=out, stderr=out)
        host, port = self.tcp[len("tcp://"):].rsplit(":", 1)

        def listening() -> bool:
            assert self.proc is not None and self.proc.poll() is None, "zccpd exited"
            with socket.create_connection((host, int(port)), timeout=0.2):
                return True
        eventually(listening, 10, f"zccpd listening on {self.tcp}")
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop(signal.SIGKILL)
        self.start()


def load_peers(bindir: Path) -> dict[str, dict[str, list[str]]]:
    """Command templates of the device and caller of every language.

    A device template starts a process that connects to {endpoint} as
    {id} and answers every method with the request's content (an echo).
    A caller template makes one request {method} with body {body} to {id}
    and prints the reply body; exit 0 on success. $ZCCP_PEERS (a JSON file
    of the same shape) adds or overrides languages, e.g. C and Java.
    """
    py = [sys.executable, "-m", "zccp"]
    zccp = str(bindir / "zccp")
    peers: dict[str, dict[str, list[str]]] = {
        "devices": {
            "go": [zccp, "device", "--endpoint", "{endpoint}", "--id", "{id}", "--", "cat"],
            "python": [*py, "device", "--endpoint", "{endpoint}", "--id", "{id}"],
        },
        "callers": {
            "go": [zccp, "call", "--endpoint", "{endpoint}", "--timeout", "5s", "{id}", "{method}", "{body}"],
            "python": [*py, "call", "--endpoint", "{endpoint}", "--timeout", "5", "{id}", "{method}", "{body}"],
        },
    }
    extra = os.environ.get("ZCCP_PEERS")
    if extra:
        more = json.loads(Path(extra).read_text())
        for kind in ("devices", "callers"):
            peers[kind].update(more.get(kind, {}))
    return peers


def peer_names() -> tuple[list[str], list[str]]:
    """The languages with a device and with a caller: go, python and those
    of $ZCCP_PEERS (for parametrising tests before anything is built)."""
    devices, callers = {"go", "python"}, {"go", "python"}
    extra = os.environ.get("ZCCP_PEERS")
    if extra:
        more = json.loads(Path(extra).read_text())
        devices |= set(more.get("devices", {}))
        callers |= set(more.get("callers", {}))
    return sorted(devices), sorted(callers)


def fill(template: Sequence[str], **values: str) -> list[str]:
    return [t.format(**values) for t in template]


def peer_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PYTHON_DIR) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def start_peer(argv: Sequence[str]) -> subprocess.Popen[bytes]:
    """Start a device process (its own process group, so that stop_peer
    ends what it runs too)."""
    return subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=peer_env(),
                            start_new_session=True)


def stop_peer(p: subprocess.Popen[bytes]) -> None:
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(5)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
    for f in (p.stdout, p.stderr):
        if f:
            f.close()
