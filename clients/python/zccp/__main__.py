"""Command line for tests and other languages' test suites:

    python3 -m zccp device --endpoint E --id ID [--label k=v]... [--subscribe EXPR]...
        Serve every method: the reply is the request's content frames,
        unchanged (an echo device, like `zccp device -- cat`). Method
        "sleep" waits float(body) seconds first; method "fail" answers
        device-error. Prints "ready" on stdout once subscribed; stops on
        SIGTERM/SIGINT (GOODBYE, exit 0).

    python3 -m zccp call --endpoint E [--timeout S] ID METHOD [BODY]

    Both take --server-key KEY (the broker's public CURVE key, Z85; or
    $ZCCP_SERVER_KEY) and --key-file PATH (this client's key pair as
    `zccp keygen` writes it; or $ZCCP_KEY_FILE, default
    $XDG_CONFIG_HOME/zccp/curve.key) to speak CURVE, as the Go CLI does.
        One request; prints the reply's frames to stdout. Exit codes as
        `zccp call`: 0 ok, 3 broker unreachable or session lost, 4 no such
        client or the device left before answering (disconnected), 5
        timeout or expired, 6 any other error reply.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import threading
import time
from typing import Any

from . import errors
from .client import connect
from .curve import read_key_file
from .messages import Request


def _labels(items: list[str]) -> dict[str, str]:
    out = {}
    for kv in items:
        k, sep, v = kv.partition("=")
        if not sep or not k:
            raise SystemExit(f"--label {kv!r}: want k=v")
        out[k] = v
    return out


def _security(a: argparse.Namespace) -> dict[str, Any]:
    """connect's CURVE options from --server-key and --key-file."""
    if not a.server_key:
        return {}
    path = a.key_file or os.path.join(os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config"),
                                      "zccp", "curve.key")
    try:
        return {"server_key": a.server_key, "client_keys": read_key_file(path)}
    except (OSError, ValueError) as e:
        raise SystemExit(f"--key-file: {e}") from None


def _device(a: argparse.Namespace) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    fatal: list[BaseException] = []

    def on_error(e: BaseException) -> None:
        print(f"zccp device: {e}", file=sys.stderr, flush=True)
        if isinstance(e, errors.TakenOver):
            fatal.append(e)
            stop.set()

    def serve(req: Request) -> list[bytes]:
        if req.method == "sleep":
            time.sleep(float(req.body or b"0"))
        elif req.method == "fail":
            raise errors.DeviceError("device-error", "asked to fail")
        return req.content

    try:
        c = connect(a.endpoint, identifier=a.id, labels=_labels(a.label), timeout=a.connect_timeout,
                    on_error=on_error, handle_all=serve, **_security(a))
    except errors.ConnectError as e:
        print(e, file=sys.stderr)
        return 3

    for expr in a.subscribe:
        c.subscribe(expr, lambda d: None)
    print("ready", flush=True)
    stop.wait()
    c.close()
    return 1 if fatal else 0


def _call(a: argparse.Namespace) -> int:
    try:
        c = connect(a.endpoint, identifier=a.id, timeout=a.connect_timeout, **_security(a))
    except errors.ConnectError as e:
        print(e, file=sys.stderr)
        return 3
    try:
        body = a.body.encode() if a.body is not None else None
        r = c.request(a.target, a.method, body, timeout=a.timeout)
        for f in r.content:
            sys.stdout.buffer.write(f)
        sys.stdout.flush()
        return 0
    except (errors.NoSuchClient, errors.Disconnected) as e:
        print(f"zccp call: {e}", file=sys.stderr)
        return 4
    except (errors.Timeout, errors.Expired) as e:
        print(f"zccp call: {e}", file=sys.stderr)
        return 5
    except errors.ConnectionLost as e:
        print(f"zccp call: {e}", file=sys.stderr)
        return 3
    except errors.ProtocolError as e:
        print(f"zccp call: {e}", file=sys.stderr)
        return 6
    finally:
        c.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m zccp")
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("device", "call"):
        s = sub.add_parser(name)
        s.add_argument("--endpoint", default="ipc://@/zccp")
        s.add_argument("--connect-timeout", type=float, default=3.0)
        s.add_argument("--server-key", default=os.environ.get("ZCCP_SERVER_KEY", ""))
        s.add_argument("--key-file", default=os.environ.get("ZCCP_KEY_FILE", ""))
        if name == "device":
            s.add_argument("--id", required=True)
            s.add_argument("--label", action="append", default=[])
            s.add_argument("--subscribe", action="append", default=[])
        else:
            s.add_argument("--id", default=f"py-call-{os.getpid()}-{secrets.token_hex(3)}")
            s.add_argument("--timeout", type=float, default=5.0)
            s.add_argument("target")
            s.add_argument("method")
            s.add_argument("body", nargs="?")
    a = p.parse_args(argv)
    return _device(a) if a.cmd == "device" else _call(a)


if __name__ == "__main__":
    sys.exit(main())
