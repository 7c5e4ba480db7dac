"""zccp — a Python client for ZCCP brokers (zccpd), on pyzmq.

    import zccp

    with zccp.connect("tcp://127.0.0.1:7878", identifier="pdu-12", labels={"kind": "pdu"}) as c:
        c.publish("power.rack12.pdu3", b"412", headers={"unit": "W"})
        for d in c.subscribe(r"^power\\.rack12\\."):
            print(d.sender, d.address, d.body)

See zccp.client for the thread model and docs/protocol.md for the wire.
"""

from .client import Client, GroupCall, State, Subscription, connect
from .curve import KeyPair, curve_keypair, read_key_file
from .device import Handler
from .errors import (BadExpression, BadRequest, BufferFull, Cancelled, Closed, ConnectError, ConnectionLost,
                     DeviceError, Disconnected, Expired, NoSuchClient, NoSuchMethod, ProtocolError, QueueFull,
                     Reserved, TakenOver, Timeout, TooLarge, TooManyRequests, ZccpError, error_for)
from .messages import Delivery, Reply, Request, Summary

__version__ = "0.1.0"

__all__ = [
    "BadExpression", "BadRequest", "BufferFull", "Cancelled", "Client", "Closed", "ConnectError",
    "ConnectionLost", "Delivery", "DeviceError", "Disconnected", "Expired", "GroupCall", "Handler", "KeyPair",
    "NoSuchClient", "NoSuchMethod", "ProtocolError", "QueueFull", "Reply", "Request", "Reserved", "State",
    "Subscription", "Summary", "TakenOver", "Timeout", "TooLarge", "TooManyRequests", "ZccpError", "connect",
    "curve_keypair", "error_for", "read_key_file",
]
