"""A pytest plugin (``-p matrix_report``, with this directory on the
path) that prints the cross-language request matrix at the end of a run:
one row per requester language, one column per device language, each cell
the outcome of ``test_cross_language_matrix[<caller>-caller-to-<device>-device]``,
then a row with each device's ``test_device_conformance[<device>]``, and a
closing ``N passed, N failed`` line over those cells. With
$ZCCP_MATRIX_LANGS (e.g. "c go java python") the rows and columns are
those languages whether they ran or not, and any cell not passed makes
the run fail. Used by ``make test-matrix`` (scripts/test-matrix.sh)."""

from __future__ import annotations

import os
from typing import Any, Generator

import pytest

# (test name, caller or "", device) -> "passed" | "failed" | "skipped"
_outcomes: dict[tuple[str, str, str], str] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    params = getattr(getattr(item, "callspec", None), "params", {})
    name = getattr(item, "originalname", item.name)
    if name not in ("test_cross_language_matrix", "test_device_conformance") or "device" not in params:
        return
    key = (name, str(params.get("caller", "")), str(params["device"]))
    if report.failed:
        _outcomes[key] = "failed"
    elif report.when == "call" and key not in _outcomes:
        _outcomes[key] = "passed" if report.passed else "skipped"
    elif report.skipped and key not in _outcomes:
        _outcomes[key] = "skipped"


_MARK = {"passed": "ok", "failed": "FAIL", "skipped": "skip"}


def _languages() -> list[str]:
    return sorted(os.environ.get("ZCCP_MATRIX_LANGS", "").split())


def render(outcomes: dict[tuple[str, str, str], str], langs: list[str]) -> tuple[list[str], int]:
    """The matrix as text lines and the number of cells not passed (a
    cell that never ran shows as "-" and counts as failed)."""
    cells = {k: v for k, v in outcomes.items() if k[0] == "test_cross_language_matrix"}
    callers = langs or sorted({c for _, c, _ in cells})
    devices = langs or sorted({d for _, _, d in outcomes})
    width = max([len("requester \\ device"), *(len(c) for c in callers), len("conformance")]) + 2
    col = max([6, *(len(d) + 2 for d in devices)])
    lines = [("requester \\ device".ljust(width) + "".join(d.ljust(col) for d in devices)).rstrip()]
    passed = failed = 0
    for caller in callers:
        row = caller.ljust(width)
        for device in devices:
            got = cells.get(("test_cross_language_matrix", caller, device))
            passed += got == "passed"
            failed += got != "passed"
            row += _MARK.get(got or "", "-").ljust(col)
        lines.append(row.rstrip())
    row = "conformance".ljust(width)
    for device in devices:
        got = outcomes.get(("test_device_conformance", "", device))
        if got is not None or langs:
            passed += got == "passed"
            failed += got != "passed"
        row += _MARK.get(got or "", "-").ljust(col)
    lines.append(row.rstrip())
    lines.append(f"{passed} passed, {failed} failed")
    return lines, failed


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _languages() and render(_outcomes, _languages())[1] and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _outcomes and not _languages():
        return
    terminalreporter.section("cross-language request matrix (requester x device)")
    for line in render(_outcomes, _languages())[0]:
        terminalreporter.write_line(line)
