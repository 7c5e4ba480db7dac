from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import zccp  # noqa: E402
from harness import Broker, build_binaries, peer_names  # noqa: E402


@pytest.fixture(scope="session")
def bindir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_binaries(tmp_path_factory.mktemp("bin"))


@pytest.fixture
def broker_factory(bindir: Path, tmp_path: Path) -> Iterator:
    started: list[Broker] = []

    def make(*args: str) -> Broker:
        b = Broker(bindir, args, log=tmp_path / f"zccpd-{len(started)}.log").start()
        started.append(b)
        return b
    yield make
    for b in started:
        b.stop()


@pytest.fixture
def broker(broker_factory) -> Broker:
    return broker_factory()


@pytest.fixture(params=["tcp", "ipc"])
def endpoint(request: pytest.FixtureRequest, broker: Broker) -> str:
    return broker.endpoint(request.param)


@pytest.fixture
def clients() -> Iterator:
    """connect(...) that closes every client at the end of the test."""
    made: list[zccp.Client] = []

    def make(endpoint: str, **kw) -> zccp.Client:
        kw.setdefault("timeout", 5)
        c = zccp.connect(endpoint, **kw)
        made.append(c)
        return c
    yield make
    for c in made:
        c.close(timeout=1)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every caller × every device (go, python, and $ZCCP_PEERS's)."""
    devices, callers = peer_names()
    names = metafunc.fixturenames
    if "caller" in names and "device" in names:
        pairs = [(c, d) for c in callers for d in devices]
        metafunc.parametrize("caller,device", pairs, ids=[f"{c}-caller-to-{d}-device" for c, d in pairs])
    elif "device" in names:
        metafunc.parametrize("device", devices)
