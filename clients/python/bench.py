"""Rough throughput of the Python client against a running zccpd, beside a
bare pyzmq peer measured in the same run (the ratio is what matters: the
machine is shared). Not part of the tests.

    bin/zccpd --bind tcp://127.0.0.1:17979 &
    PYTHONPATH=clients/python /usr/bin/python3 clients/python/bench.py tcp://127.0.0.1:17979 50000
"""

import sys
import time

import zmq

import zccp
from zccp import codec

ep = sys.argv[1]; n = int(sys.argv[2])
errs = []
sub = zccp.connect(ep, identifier="bsub", on_error=errs.append); pub = zccp.connect(ep, identifier="bpub", on_error=errs.append)
s = sub.subscribe("^bench$")
t0 = time.perf_counter()
for i in range(n):
    while True:
        try:
            pub.publish("bench", b"x" * 100); break
        except zccp.BufferFull:
            time.sleep(0.001)
got = 0
try:
    while got < n:
        s.get(5); got += 1
except zccp.Timeout:
    pass
dt = time.perf_counter() - t0
print("errors:", errs[:3], "sessions:", sub.sessions, pub.sessions)
print(f"{n} published, {got} received, {sub.missed} dropped by the broker (zccp-missed), {s.dropped} dropped locally, {dt:.2f} s, {got/dt:.0f} msgs/s end to end")
t0 = time.perf_counter(); k = 500
dev = zccp.connect(ep, identifier="bdev", handlers={"echo": lambda r: r.body})
for i in range(k): pub.request("bdev", "echo", b"x", timeout=5)
dt = time.perf_counter() - t0
print(f"{k} sequential requests in {dt:.2f} s: {dt/k*1e6:.0f} us per round trip")
for c in (sub, pub, dev): c.close()
# The peer, same run: bare pyzmq DEALERs with the codec only (no threads, no library).
ctx = zmq.Context.instance()
def raw(ident):
    s = ctx.socket(zmq.DEALER); s.setsockopt(zmq.LINGER, 0); s.connect(ep)
    s.send_multipart(codec.encode(codec.HELLO, identifier=ident)); assert codec.decode(s.recv_multipart()).id == codec.HELLO_OK
    return s
rs, rp = raw("rsub"), raw("rpub")
rs.send_multipart(codec.encode(codec.SUBSCRIBE, expression="^rbench$")); rs.recv_multipart()
frames = codec.encode(codec.PUBLISH, address="rbench", content=[b"x" * 100])
t0 = time.perf_counter(); got = 0
for i in range(n):
    rp.send_multipart(frames)
    while rs.poll(0):
        m = rs.recv_multipart()
        if codec.decode(m).id == codec.DELIVER: got += 1
        else: rs.send_multipart(codec.encode(codec.PING_OK))
while got < n and rs.poll(5000):
    m = codec.decode(rs.recv_multipart())
    if m.id == codec.DELIVER: got += 1
    else: rs.send_multipart(codec.encode(codec.PING_OK))
dt = time.perf_counter() - t0
print(f"raw pyzmq peer: {got} received, {dt:.2f} s, {got/dt:.0f} msgs/s end to end")
