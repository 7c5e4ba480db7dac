"""The ZCCP client: connect(), Client, Subscription, GroupCall.

Thread model
------------
A pyzmq socket must only be used by one thread, so every Client owns one
background **I/O thread** that alone touches its DEALER socket (and the
socket's monitor). Public methods, from any thread, hand work to it
through a queue and a wake-up pipe, and wait on futures or queues for the
answers. The I/O thread never runs application code: subscription
callbacks and the error callback run, in arrival order, on one
**dispatch thread** per client; request handlers run on a **thread pool**
(``workers``, default 8). So a slow callback or handler never delays the
answers to the broker's PINGs, and the session survives handlers slower
than the broker's timeout. Everything public is thread-safe.
"""

from __future__ import annotations

import collections
import enum
import itertools
import json
import logging
import os
import queue
import random
import secrets
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Mapping

import zmq
from zmq.utils.monitor import parse_monitor_message

from . import codec, errors, zrex
from .device import Device, Handler
from .group import GroupCall, _Pending
from .subscription import Callback, Subscription
from .curve import check_key, curve_keypair, split_endpoint
from .messages import (ADDR_ERROR, ADDR_RECEIPT, BROKER, H_CANCEL, H_CANCEL_REQUEST, H_DRY_RUN, H_SERVES,
                       H_METHOD, H_MISSED, H_RECIPIENTS, H_REPLY_TO, H_REQUEST_ID, H_SELECT, H_TTL, PROGRESS,
                       Body, Delivery, Reply, frames_of)

log = logging.getLogger("zccp")

ErrorCallback = Callable[[BaseException], Any]


class State(enum.Enum):
    CONNECTING = "connecting"      # no session yet
    CONNECTED = "connected"        # HELLO-OK received; the session is live
    RECONNECTING = "reconnecting"  # the session was lost; getting a new one
    CLOSED = "closed"


class Client:
    """A connection to a ZCCP broker; create it with :func:`connect`."""

    def __init__(self, endpoint: str, *, identifier: str = "", labels: Mapping[str, str] | None = None,
                 on_error: ErrorCallback | None = None, on_direct: Callback | None = None,
                 heartbeat: float = 2.0, silence: float = 10.0, buffer: int = 10000,
                 pending_limit: int = 65536, workers: int = 8, hello_retry: float = 3.0,
                 serves: bool = False, handlers: Mapping[str, Handler] | None = None,
                 handle_all: Handler | None = None, context: "zmq.Context[Any]" | None = None,
                 server_key: str | bytes | None = None, client_keys: tuple[str, str] | None = None) -> None:
        if len(codec.encode_text(identifier)) > codec.MAX_STRING:
            raise ValueError("identifier longer than 255 bytes")
        endpoint, curve_ep = split_endpoint(endpoint)
        self._curve: tuple[bytes, bytes, bytes] | None = None  # server, public, secret (Z85)
        self.public_key: str | None = None  # this client's CURVE public key, with CURVE
        if curve_ep and server_key is None:
            raise ValueError("a curve+ endpoint needs server_key (the broker's public key: zccpd key)")
        if server_key is not None:
            kp = client_keys or curve_keypair()
            self._curve = (check_key(server_key, "server_key"), check_key(kp[0], "client_keys public"),
                           check_key(kp[1], "client_keys secret"))
            self.public_key = self._curve[1].decode()
        self.endpoint = endpoint
        self.identifier = identifier
        self.labels = dict(labels or {})
        self.serves = serves  # declare at HELLO that this client serves requests (a group member)
        self.session: str | None = None   # zccp-session of the current session
        self.sessions = 0                 # HELLO-OKs received (1 + re-established sessions)
        self.info: dict[str, str] = {}    # the last HELLO-OK's headers
        self.missed = 0                   # notifications the broker dropped for us (zccp-missed)
        self._on_error = on_error
        self._heartbeat, self._silence = heartbeat, silence
        self._buffer_max, self._pending_limit = buffer, pending_limit
        self._hello_retry = hello_retry
        self._ctx = context or zmq.Context.instance()
        self._lock = threading.Lock()
        self._state = State.CONNECTING
        self._ops: collections.deque[tuple[Callable[..., None], tuple[Any, ...]]] = collections.deque()
        self._wake_r, self._wake_w = os.pipe()
        self._wake_pending = False  # a wake-up byte is in the pipe or about to be
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._hello_event = threading.Event()
        self._stopping = threading.Event()
        self._subs: list[Subscription] = []        # guarded by _lock
        self._exprs: collections.Counter[str] = collections.Counter()  # guarded by _lock
        self._calls: dict[str, _Pending] = {}      # guarded by _lock
        self._queued = 0                           # app messages not yet written; guarded by _lock
        self._req_prefix = secrets.token_hex(6) + "-"
        self._seq = itertools.count(1)
        self._last_error = ""
        # I/O thread only:
        self._conn_up = False
        self._in_session = False
        self._hello_at = 0.0
        self._hello_delay = hello_retry
        self._rehello_at: float | None = None
        self._losses: collections.deque[float] = collections.deque(maxlen=16)
        self._sub_waits: collections.deque[list[Any]] = collections.deque()  # [expr, future|None, err]
        self._parked: dict[str, list[Future[None]]] = {}
        # Waits for a session: frames, and the request id when they are a
        # request (dropped unsent once that call has failed or ended).
        self._app: collections.deque[tuple[list[bytes], str | None]] = collections.deque()
        self._ctl: collections.deque[list[bytes]] = collections.deque()   # control frames not yet written
        self._last_recv = time.monotonic()
        self._probe_at = 0.0
        self._goodbye: Future[dict[str, str]] | None = None
        # Application side.
        self._device = Device(self)
        self._device.handlers.update(handlers or {})  # before HELLO: it declares zccp-serves
        self._device.fallback = handle_all
        self._dispatch_q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zccp-handler")
        self.directs = Subscription(self, "", on_direct, lambda a: False, pending_limit)
        self._dispatcher = threading.Thread(target=self._dispatch_loop, name="zccp-dispatch", daemon=True)
        self._io = threading.Thread(target=self._io_loop, name="zccp-io", daemon=True)
        self._dispatcher.start()
        self._io.start()

    # ---- public API -------------------------------------------------------

    @property
    def state(self) -> State:
        with self._lock:
            return self._state

    def supports(self, extension: str) -> bool:
        """Whether the broker announced an extension in HELLO-OK."""
        with self._lock:
            return extension in self.info.get("zccp-extensions", "").split(",")

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def subscribe(self, expression: str, callback: Callback | None = None,
                  timeout: float = 5.0) -> Subscription:
        """Receive every publication to an address that ``expression`` (zrex,
        an unanchored search: ``^power\\.`` for a prefix) matches. With a
        callback, it is called for each delivery on the dispatch thread;
        without, iterate over the returned Subscription. Waits for the
        broker's SUBSCRIBE-OK (BadExpression if refused)."""
        if len(codec.encode_text(expression)) > codec.MAX_STRING:
            raise ValueError("expression longer than 255 bytes")
        try:
            matcher = zrex.compile(expression)
        except ValueError as e:
            raise errors.BadExpression("bad-expression", str(e), command="SUBSCRIBE", address=expression) from None
        sub = Subscription(self, expression, callback, matcher, self._pending_limit)
        fut: Future[None] = Future()
        with self._lock:
            if self._state is State.CLOSED:
                raise errors.Closed("client closed")
            self._subs.append(sub)
            self._exprs[expression] += 1
            first = self._exprs[expression] == 1
        if not first:
            return sub
        self._submit(self._op_subscribe, expression, fut, False)
        try:
            fut.result(timeout)
        except BaseException as e:
            self._forget(sub)
            if isinstance(e, TimeoutError):
                raise errors.Timeout(f"no SUBSCRIBE-OK within {timeout} s") from None
            raise
        return sub

    def publish(self, address: str, body: Body = None, headers: Mapping[str, str] | None = None) -> None:
        """PUBLISH to an address (not confirmed). body: bytes, str or a
        list of frames. Buffered while the session is being re-established."""
        self._send_app(codec.encode(codec.PUBLISH, address=address, headers=headers, content=frames_of(body)))

    def direct(self, identifier: str, body: Body = None, headers: Mapping[str, str] | None = None) -> None:
        """DIRECT to the client with that identifier. If nobody has it the
        broker says so with a notice: a NoSuchClient passed to on_error."""
        self._send_app(codec.encode(codec.DIRECT, address=identifier, headers=headers, content=frames_of(body)))

    def request(self, identifier: str, method: str, body: Body = None, *,
                headers: Mapping[str, str] | None = None, timeout: float = 5.0, ttl: float | None = None,
                on_progress: Callable[[Reply], Any] | None = None) -> Reply:
        """Ask one device to run ``method`` and wait for its final reply.

        Raises the reply's error (NoSuchClient, Expired, Disconnected,
        DeviceError, NoSuchMethod, ...), Timeout when nothing final came
        within ``timeout`` seconds (a progress report restarts it; the
        device is then told to cancel), ConnectionLost when the session
        ended first (a request still buffered then is dropped: a later
        session never sends it). ``ttl`` (default: ``timeout``) is how long the command
        may wait to start, sent as ``zccp-ttl``."""
        rid, p = self._register(group=False)
        try:
            self._send_app(codec.encode(codec.DIRECT, address=identifier, content=frames_of(body),
                                        headers=self._request_headers(rid, method, headers, ttl or timeout)), rid)
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                try:
                    r = p.q.get(timeout=max(left, 0)) if left > 0 else p.q.get_nowait()
                except queue.Empty:
                    self._cancel_request(identifier, rid)
                    raise errors.Timeout(f"no reply from {identifier!r} within {timeout} s") from None
                if isinstance(r, BaseException):
                    raise r
                if r.status == PROGRESS:
                    deadline = time.monotonic() + timeout
                    if on_progress:
                        on_progress(r)
                    continue
                err = r.error()
                if err is not None:
                    raise err
                return r
        finally:
            self._unregister(rid)

    def request_group(self, address: str = "", method: str = "", body: Body = None, *,
                      labels: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
                      timeout: float = 5.0, ttl: float | None = None, dry_run: bool = False) -> GroupCall:
        """Send ``method`` to every device subscribed to an expression that
        matches ``address`` (and carrying ``labels``). Returns once the
        broker's receipt says whom it went to."""
        if not method:
            raise ValueError("method is required")
        if not address and not labels:
            raise ValueError("a group request needs an address or labels")
        for k, v in (labels or {}).items():
            if "," in k + v or "=" in k or not k:
                raise ValueError(f"label {k!r}={v!r}: zccp-select cannot carry ',' or a key with '='")
        rid, p = self._register(group=True)
        h = self._request_headers(rid, method, headers, ttl or timeout)
        if labels:
            h[H_SELECT] = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        if dry_run:
            h[H_DRY_RUN] = "1"
        try:
            self._send_app(codec.encode(codec.PUBLISH, address=address, headers=h, content=frames_of(body)), rid)
            receipt = self._await_receipt(p, timeout)
        except BaseException:
            self._unregister(rid)
            raise
        # The first zccp-recipients frames name the recipients (a receipt
        # naming nobody carries one empty frame).
        try:
            n = int(receipt.headers.get(H_RECIPIENTS, ""))
        except ValueError:
            n = len(receipt.content)
        expected = [codec.decode_text(f) for f in receipt.content[:max(n, 0)]]
        return GroupCall(self, rid, p, expected, dry_run, timeout)

    def clients(self, labels: Mapping[str, str] | None = None, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The broker's list of live sessions (the ``clients`` broker API)."""
        h = {H_SELECT: ",".join(f"{k}={v}" for k, v in sorted(labels.items()))} if labels else None
        r = self.request(BROKER, "clients", headers=h, timeout=timeout)
        return [json.loads(f) for f in r.content if f]  # an empty frame stands for none

    def handle(self, method: str, fn: Handler | None = None) -> Any:
        """Register a request handler for ``method``; usable as a decorator.
        To be a member of group requests a client declares ``zccp-serves``
        at HELLO: pass ``handlers=``/``handle_all=`` or ``serves=True`` to
        connect() (a handler registered later serves DIRECT requests, and
        group requests only from the next session on).
        The handler gets a :class:`Request` and returns the reply body
        (None, bytes, str, a list of frames, or a Reply for headers), or
        raises: a ProtocolError keeps its code, anything else is a
        device-error with str(exc) as the reason."""
        if fn is not None:
            self._device.handlers[method] = fn
            return fn

        def deco(f: Handler) -> Handler:
            self._device.handlers[method] = f
            return f
        return deco

    def handle_all(self, fn: Handler) -> Handler:
        """Register the handler for every method without one of its own."""
        self._device.fallback = fn
        return fn

    def close(self, timeout: float = 2.0) -> dict[str, str] | None:
        """End the session politely: running handlers may answer, then
        GOODBYE; returns GOODBYE-OK's statistics (None if none came)."""
        with self._lock:
            if self._state is State.CLOSED:
                return None
        deadline = time.monotonic() + timeout
        self._device.drain(timeout)
        stats = None
        fut: Future[dict[str, str]] = Future()
        self._submit(self._op_goodbye, fut)
        try:
            stats = fut.result(max(deadline - time.monotonic(), 0.01))
        except Exception:
            pass
        self._shutdown()
        return stats

    # ---- internals: submitting work to the I/O thread -------------------

    def _submit(self, fn: Callable[..., None], *args: Any) -> None:
        self._ops.append((fn, args))
        # One wake-up byte per batch: the I/O thread clears the flag before
        # it drains the queue, so an op appended after the clear writes again.
        if self._wake_pending:
            return
        self._wake_pending = True
        with self._lock:  # never write to the fd number after it was closed (it may be reused)
            if self._wake_w < 0:
                return
            try:
                os.write(self._wake_w, b"x")
            except BlockingIOError:
                pass  # the pipe is full: the I/O thread is awake anyway
            except BrokenPipeError:
                pass  # the I/O thread has ended

    def _send_app(self, frames: list[bytes], rid: str | None = None) -> None:
        with self._lock:
            if self._state is State.CLOSED:
                raise errors.Closed("client closed")
            if self._queued >= self._buffer_max:
                raise errors.BufferFull(f"{self._queued} messages waiting for the broker")
            self._queued += 1
        self._submit(self._op_app, frames, rid)

    def _dispatch(self, fn: Callable[..., Any], *args: Any) -> None:
        self._dispatch_q.put((fn, args))

    def _dispatch_loop(self) -> None:
        while True:
            item = self._dispatch_q.get()
            if item is None:
                return
            fn, args = item
            try:
                fn(*args)
            except Exception as e:  # user code: report, keep going
                if fn is not self._call_on_error:
                    self._call_on_error(e)
                else:
                    log.debug("zccp: on_error raised", exc_info=True)

    def _report(self, err: BaseException) -> None:
        log.debug("zccp: %s", err)
        self._dispatch(self._call_on_error, err)

    def _call_on_error(self, err: BaseException) -> None:
        if self._on_error is not None:
            self._on_error(err)

    def _set_state(self, s: State) -> None:
        with self._lock:
            if self._state is not State.CLOSED:
                self._state = s

    # ---- requests ---------------------------------------------------------

    def _register(self, group: bool) -> tuple[str, _Pending]:
        rid = f"{self._req_prefix}{next(self._seq)}"
        return rid, self._register_id(rid, group)

    def _register_id(self, rid: str, group: bool = False) -> _Pending:
        """Route replies to rid to the returned queue (tests use it to
        send hand-made requests)."""
        if not self.identifier or self.identifier.startswith("$"):
            raise ValueError("an anonymous client cannot make requests: replies are DIRECTs to its identifier")
        p = _Pending(group)
        with self._lock:
            if self._state is State.CLOSED:
                raise errors.Closed("client closed")
            self._calls[rid] = p
        return p

    def _unregister(self, rid: str) -> None:
        with self._lock:
            self._calls.pop(rid, None)

    @staticmethod
    def _request_headers(rid: str, method: str, headers: Mapping[str, str] | None,
                         ttl: float | None) -> dict[str, str]:
        h = dict(headers or {})
        h[H_REQUEST_ID] = rid
        h[H_METHOD] = method
        if ttl:
            h[H_TTL] = str(max(int(ttl * 1000), 1))
        return h

    def _await_receipt(self, p: _Pending, timeout: float) -> Delivery:
        assert p.receipt is not None
        deadline = time.monotonic() + timeout
        while True:
            if p.receipt.done():
                return p.receipt.result()
            left = deadline - time.monotonic()
            if left <= 0:
                raise errors.Timeout(f"no receipt within {timeout} s")
            try:
                r = p.q.get(timeout=min(left, 0.05))
            except queue.Empty:
                continue
            if p.receipt.done():  # the receipt comes first: keep r for the call
                p.q.put(r)
                return p.receipt.result()
            if isinstance(r, BaseException):
                raise r
            err = r.error()
            raise err if err is not None else errors.ZccpError("group request answered without a receipt")

    def _cancel_request(self, identifier: str, rid: str) -> None:
        try:
            self.direct(identifier, None, {H_CANCEL_REQUEST: rid})
        except errors.ZccpError:
            pass

    def _fail_calls(self, err: BaseException) -> None:
        with self._lock:
            calls = list(self._calls.values())
        for p in calls:
            p.lost = True  # its request, if still buffered, is never sent (_flush)
            p.q.put(err)
            if p.receipt is not None and not p.receipt.done():
                pass  # _await_receipt sees err in the queue

    # ---- subscriptions ----------------------------------------------------

    def _forget(self, sub: Subscription) -> bool:
        """Drop sub locally; True when it was the last with its expression."""
        with self._lock:
            if sub not in self._subs:
                return False
            self._subs.remove(sub)
            self._exprs[sub.expression] -= 1
            last = self._exprs[sub.expression] <= 0
            if last:
                del self._exprs[sub.expression]
        sub._end()
        return last

    def _unsubscribe(self, sub: Subscription, timeout: float) -> None:
        if not self._forget(sub) or not self.supports("cancel"):
            return
        fut: Future[None] = Future()
        self._submit(self._op_subscribe, sub.expression, fut, True)
        try:
            fut.result(timeout)
        except TimeoutError:
            raise errors.Timeout(f"no SUBSCRIBE-OK within {timeout} s") from None

    # ---- the I/O thread ---------------------------------------------------

    def _io_loop(self) -> None:
        sock = self._ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.IMMEDIATE, 1)  # nothing is queued for a connection not (yet) up
        sock.setsockopt(zmq.RECONNECT_IVL, 100)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 5000)
        if self._curve is not None:
            sock.curve_serverkey, sock.curve_publickey, sock.curve_secretkey = self._curve
        if self._heartbeat > 0:
            sock.setsockopt(zmq.HEARTBEAT_IVL, int(self._heartbeat * 1000))
            sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, int(self._silence * 1000))
        mon = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED
                                      | zmq.EVENT_CONNECT_RETRIED | zmq.EVENT_CLOSED)
        self._sock = sock
        try:
            sock.connect(self.endpoint)
            self._io_run(sock, mon)
        except Exception as e:  # a bug: never die silently
            log.exception("zccp: I/O thread failed")
            self._last_error = f"I/O thread failed: {e}"
            self._fail_calls(errors.ConnectionLost(str(e)))
        finally:
            sock.disable_monitor()
            mon.close(0)
            sock.close(0)
            os.close(self._wake_r)

    def _io_run(self, sock: "zmq.Socket[bytes]", mon: "zmq.Socket[bytes]") -> None:
        poller = zmq.Poller()
        poller.register(mon, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        while not self._stopping.is_set():
            flags = zmq.POLLIN | (zmq.POLLOUT if self._has_output() else 0)
            poller.register(sock, flags)
            ready = dict(poller.poll(self._poll_timeout()))
            if self._wake_r in ready:
                try:
                    os.read(self._wake_r, 4096)
                except BlockingIOError:
                    pass
            self._wake_pending = False
            while self._ops:
                fn, args = self._ops.popleft()
                fn(*args)
            if mon in ready:
                self._on_monitor(mon)
            if sock in ready and ready[sock] & zmq.POLLIN:
                for _ in range(1000):  # bounded batch, then look at the rest
                    try:
                        frames = sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    self._last_recv = time.monotonic()
                    self._on_message(frames)
            self._timers()
            self._flush(sock)

    def _poll_timeout(self) -> int:
        return 50 if self._has_output() else 200

    def _has_output(self) -> bool:
        return bool(self._ctl) or (self._in_session and bool(self._app))

    def _flush(self, sock: "zmq.Socket[bytes]") -> None:
        """Write what can be written without blocking: control frames
        always, application traffic only inside a session."""
        while self._ctl:
            try:
                sock.send_multipart(self._ctl[0], zmq.NOBLOCK)
            except zmq.Again:
                return
            self._ctl.popleft()
        while self._in_session and self._app:
            frames, rid = self._app[0]
            if rid is None or self._call_live(rid):
                try:
                    sock.send_multipart(frames, zmq.NOBLOCK)
                except zmq.Again:
                    return
            self._app.popleft()
            with self._lock:
                self._queued -= 1

    def _call_live(self, rid: str) -> bool:
        """Whether the call that made request rid still waits for it: a
        request of a call already failed (its session was lost: the caller
        got ConnectionLost) or ended (timeout) is dropped unsent."""
        with self._lock:
            p = self._calls.get(rid)
        return p is not None and not p.lost

    def _drop_dead_requests(self) -> None:
        """Frees the buffer of requests whose calls failed with the session."""
        keep = collections.deque(e for e in self._app if e[1] is None or self._call_live(e[1]))
        with self._lock:
            self._queued -= len(self._app) - len(keep)
        self._app = keep

    def _send_ctl(self, frames: list[bytes], first: bool = False) -> None:
        if first:
            self._ctl.appendleft(frames)
        else:
            self._ctl.append(frames)

    def _op_app(self, frames: list[bytes], rid: str | None) -> None:
        self._app.append((frames, rid))

    def _op_subscribe(self, expr: str, fut: Future[None], cancel: bool) -> None:
        if not self._in_session:
            if cancel:
                fut.set_result(None)  # the next session will not have it
            else:
                self._parked.setdefault(expr, []).append(fut)
            return
        h = {H_CANCEL: "1"} if cancel else None
        self._send_ctl(codec.encode(codec.SUBSCRIBE, expression=expr, headers=h))
        self._sub_waits.append([expr, fut, None])

    def _op_goodbye(self, fut: Future[dict[str, str]]) -> None:
        if not self._in_session:
            fut.set_exception(errors.Closed("no session"))
            return
        self._goodbye = fut
        self._send_ctl(codec.encode(codec.GOODBYE))

    def _hello(self) -> None:
        headers = self.labels
        if self.serves or self._device.handlers or self._device.fallback is not None:
            headers = {**self.labels, H_SERVES: "1"}  # a member of group requests
        self._send_ctl(codec.encode(codec.HELLO, identifier=self.identifier, headers=headers), first=True)
        self._hello_at = time.monotonic()
        self._rehello_at = None

    def _on_monitor(self, mon: "zmq.Socket[bytes]") -> None:
        while True:
            try:
                ev = parse_monitor_message(mon.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                return
            e = ev["event"]
            if e == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                # A new connection never has a session: say HELLO on it.
                self._conn_up = True
                self._in_session = False
                self._ctl.clear()
                self._hello_delay = self._hello_retry
                self._hello()
            elif e == zmq.EVENT_DISCONNECTED:
                self._conn_up = False
                self._last_error = "disconnected"
                self._lose_session(errors.ConnectionLost("connection to the broker lost"))
                self._ctl.clear()
            elif e == zmq.EVENT_CONNECT_RETRIED:
                self._last_error = "connection refused or unreachable; retrying"

    def _lose_session(self, err: BaseException) -> None:
        if not self._in_session:
            return
        self._in_session = False
        self._set_state(State.RECONNECTING)
        # Subscriptions awaiting SUBSCRIBE-OK are sent again in the next session.
        for expr, fut, _ in self._sub_waits:
            if fut is not None and not fut.done():
                self._parked.setdefault(expr, []).append(fut)
        self._sub_waits.clear()
        if self._goodbye is not None and not self._goodbye.done():
            self._goodbye.set_exception(errors.Closed("session lost"))
        self._report(err)
        self._fail_calls(err)
        self._drop_dead_requests()

    def _timers(self) -> None:
        now = time.monotonic()
        if not self._conn_up:
            return
        if self._rehello_at is not None and now >= self._rehello_at:
            self._hello()
        elif not self._in_session and self._rehello_at is None and now - self._hello_at >= self._hello_delay:
            # No HELLO-OK: the broker is hung or refused us; try again, slower.
            self._hello_delay = min(self._hello_delay * 2, 30.0)
            self._hello()
        elif self._in_session:
            self._probe(now)

    def _probe(self, now: float) -> None:
        """An in-session client hears from the broker at least every ping
        interval; after two of silence, ask with a ZCCP PING: a connection
        whose session the broker no longer has answers INVALID."""
        try:
            interval = int(self.info.get("zccp-ping-interval", "0")) / 1000
        except ValueError:
            interval = 0
        if interval <= 0 or not self.supports("ping"):
            return
        if now - self._last_recv >= 2 * interval and now >= self._probe_at:
            self._probe_at = now + interval
            self._send_ctl(codec.encode(codec.PING))

    def _on_message(self, frames: list[bytes]) -> None:
        try:
            m = codec.decode(frames)
        except codec.MalformedError as e:
            self._report(errors.ZccpError(f"undecodable message from the broker: {e}"))
            return
        if m.id == codec.DELIVER:
            d = Delivery(m.sender, m.address, m.headers, m.content)
            if H_MISSED in d.headers:
                self._on_missed(d)
            self._on_deliver(d)
        elif m.id == codec.PING:
            self._send_ctl(codec.encode(codec.PING_OK))
        elif m.id == codec.HELLO_OK:
            self._on_hello_ok(m.headers)
        elif m.id == codec.SUBSCRIBE_OK:
            if self._sub_waits:
                _, fut, err = self._sub_waits.popleft()
                if fut is not None and not fut.done():
                    fut.set_exception(err) if err else fut.set_result(None)
        elif m.id == codec.GOODBYE_OK:
            self._in_session = False
            if self._goodbye is not None and not self._goodbye.done():
                self._goodbye.set_result(m.headers)
        elif m.id == codec.INVALID:
            self._on_invalid()

    def _on_missed(self, d: Delivery) -> None:
        try:
            d.missed = int(d.headers.pop(H_MISSED))
        except ValueError:
            return
        with self._lock:
            self.missed += d.missed
        self._report(errors.ZccpError(f"the broker dropped {d.missed} notifications for this client "
                                      "(it did not read fast enough)"))

    def _on_hello_ok(self, headers: dict[str, str]) -> None:
        if self._in_session:
            return
        self._in_session = True
        with self._lock:
            self.info = headers
            exprs = sorted(self._exprs)
        self.session = headers.get("zccp-session")
        self.sessions += 1
        self._set_state(State.CONNECTED)
        self._last_recv = time.monotonic()
        for e in exprs:  # every live subscription again, then what waited
            self._send_ctl(codec.encode(codec.SUBSCRIBE, expression=e))
            futs = self._parked.pop(e, [])
            self._sub_waits.append([e, futs[0] if futs else None, None])
            for f in futs[1:]:
                f.set_result(None)
        for futs in self._parked.values():  # cancelled meanwhile
            for f in futs:
                f.set_result(None)
        self._parked.clear()
        self._hello_event.set()

    def _on_invalid(self) -> None:
        if not self._in_session:
            # Waiting for HELLO-OK: this INVALID answers something sent
            # before our HELLO reached the broker; HELLO-OK is on its way.
            return
        now = time.monotonic()
        self._losses.append(now)
        recent = sum(1 for t in self._losses if now - t < 30)
        self._lose_session(errors.ConnectionLost("the broker forgot the session (INVALID)"))
        # First loss: HELLO at once; repeated losses back off (no HELLO storm).
        delay = 0.0 if recent <= 1 else min(5.0, 0.1 * 2 ** (recent - 2))
        self._rehello_at = now + delay * random.uniform(0.75, 1.25)

    def _on_deliver(self, d: Delivery) -> None:
        rid = d.headers.get(H_REPLY_TO)
        if rid is not None:
            with self._lock:
                p = self._calls.get(rid)
            if p is not None:
                if d.sender == BROKER and d.address == ADDR_RECEIPT and p.receipt is not None:
                    if not p.receipt.done():
                        p.receipt.set_result(d)
                else:
                    p.q.put(Reply.from_delivery(d))
                return
        if d.sender == BROKER and d.address == ADDR_ERROR:
            self._on_notice(d)
            return
        if self._device.offer(d):
            return
        self._route(d)

    def _on_notice(self, d: Delivery) -> None:
        h = d.headers
        err = errors.error_for(h.get("zccp-error", ""), h.get("zccp-reason", ""), command=h.get("zccp-command", ""),
                               address=h.get("zccp-address", ""), headers=h)
        if isinstance(err, errors.TakenOver):
            self._report(err)
            threading.Thread(target=self._shutdown, daemon=True).start()
            return
        if err.command == "HELLO":
            self._last_error = str(err)  # e.g. a CURVE key pending or not allowed this identifier
        if err.command == "SUBSCRIBE":
            for w in self._sub_waits:
                if w[0] == err.address and w[2] is None:
                    w[2] = err
                    return
        self._report(err)

    def _route(self, d: Delivery) -> None:
        if d.address == self.identifier and self.identifier and d.sender != BROKER:
            self.directs._offer(d)
            return
        addr = codec.encode_text(d.address)
        system = d.address.startswith("$")
        with self._lock:
            subs = list(self._subs)
        for s in subs:
            if s.expression.startswith("^\\$") == system and s._match(addr):
                s._offer(d)

    def _shutdown(self) -> None:
        with self._lock:
            if self._state is State.CLOSED:
                return
            self._state = State.CLOSED
            subs = list(self._subs)
        self._stopping.set()
        self._submit(lambda: None)
        if threading.current_thread() is not self._io:
            self._io.join(5)
        self._fail_calls(errors.Closed("client closed"))
        for s in subs + [self.directs]:
            s._end()
        self._device.cancel_all()
        self._dispatch_q.put(None)
        self._pool.shutdown(wait=False)
        with self._lock:
            os.close(self._wake_w)
            self._wake_w = -1


def connect(endpoint: str, *, identifier: str = "", labels: Mapping[str, str] | None = None,
            timeout: float = 5.0, **options: Any) -> Client:
    """Connect to a broker (``tcp://host:port``, ``ipc://path``,
    ``ipc://@name``), say HELLO and wait up to ``timeout`` seconds for
    HELLO-OK (ConnectError otherwise). The client then keeps its session
    by itself until close(): it answers PINGs, sends ZMTP heartbeats,
    and after a lost session (a broker restart, INVALID) says HELLO again
    and restores its subscriptions. Use it as a context manager.

    Options: on_error(exc) for asynchronous problems (notices, lost
    sessions), on_direct(delivery) for DIRECTs, heartbeat/silence
    (seconds), buffer (messages kept while disconnected), workers (request
    handler threads), pending_limit (per subscription); handlers={method:
    fn} and handle_all=fn register request handlers before HELLO, and
    serves=True declares the client a group member without them.

    CURVE (docs/protocol.md §1.1): server_key is the broker's public key
    (what ``zccpd key`` prints, Z85) and client_keys this client's
    (public, secret) pair (:func:`zccp.curve.curve_keypair`,
    :func:`zccp.curve.read_key_file` for ``zccp keygen``'s file; default a
    new pair, see ``Client.public_key``). A ``curve+tcp://`` endpoint
    requires server_key."""
    c = Client(endpoint, identifier=identifier, labels=labels, **options)
    if not c._hello_event.wait(timeout):
        why = c._last_error or "no HELLO-OK"
        c._shutdown()
        raise errors.ConnectError(f"zccp: connect {endpoint}: no session within {timeout} s ({why})")
    return c


__all__ = ["Client", "GroupCall", "State", "Subscription", "connect"]
