"""Python client of the hall websocket: live hall state in seq order, for agents and tests.

Depends on the standard library and ``websockets`` only (vendorable; a test checks it).
"""

from .backoff import backoff_delay
from .live import LinkDead, LiveClient
from .messages import BadFrame, EventMessage, Snapshot, SnapshotMessage, parse_server_message
from .state import UNDERIVED, StateMismatch, apply_event, comparable

__all__ = [
    "UNDERIVED",
    "BadFrame",
    "EventMessage",
    "LinkDead",
    "LiveClient",
    "Snapshot",
    "SnapshotMessage",
    "StateMismatch",
    "apply_event",
    "backoff_delay",
    "comparable",
    "parse_server_message",
]
