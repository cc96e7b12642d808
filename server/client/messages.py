"""Wire messages of the hall websocket ``/ws`` (contract v1), as TypedDicts.

Standard library only: this package is vendored by kiosk agents and caller bridges.
"""

from __future__ import annotations

import json
from typing import Any, Literal, NotRequired, TypedDict


class Hello(TypedDict):
    """Client → server, first frame: the credential and, when resuming, the position."""

    type: Literal["hello"]
    token: str
    hall: str
    epoch: NotRequired[str]
    last_seq: NotRequired[int]


class Resync(TypedDict):
    """Client → server: ask for a fresh snapshot."""

    type: Literal["resync"]


class WindowTicket(TypedDict):
    """The called or serving ticket a window shows."""

    number: str
    status: str
    called_at: str | None
    recalls: int


class WindowStaff(TypedDict):
    """The staff member at a window, masked (only when the hall shows staff names)."""

    code: str
    name_masked: str


class WindowState(TypedDict):
    """One window of a snapshot."""

    id: str
    number: int
    name: str
    zone: str
    status: str
    reason: str | None
    ticket: WindowTicket | None
    staff: WindowStaff | None


class QueueState(TypedDict):
    """One queue of a snapshot."""

    id: str
    prefix: str
    name: str
    name_en: NotRequired[str]
    waiting: int
    longest_wait_s: int


class RecentCall(TypedDict):
    """A call or recall, newest first in ``Snapshot.recent_calls``."""

    number: str
    window: str
    at: str
    seq: int


class Snapshot(TypedDict):
    """The contract's hall ``Snapshot`` at ``seq``."""

    hall: str
    epoch: str
    seq: int
    business_date: str
    windows: list[WindowState]
    queues: list[QueueState]
    recent_calls: list[RecentCall]
    missed: list[str]


class SnapshotMessage(TypedDict):
    """Server → client: the whole hall state at ``seq``."""

    type: Literal["snapshot"]
    hall: str
    epoch: str
    seq: int
    state: Snapshot


class EventMessage(TypedDict):
    """Server → client: one committed change, ``seq`` gapless per hall within an epoch."""

    type: Literal["event"]
    hall: str
    epoch: str
    seq: int
    name: str
    at: str
    data: dict[str, Any]


class HeartbeatMessage(TypedDict):
    """Server → client every ≤ 5 s: the hall's current position."""

    type: Literal["heartbeat"]
    epoch: str
    seq: int


class ErrorMessage(TypedDict):
    """Server → client: a frame of ours was refused."""

    type: Literal["error"]
    code: str
    message: str


ServerMessage = SnapshotMessage | EventMessage | HeartbeatMessage | ErrorMessage

# Field → type each server frame must carry; anything else in a frame is ignored.
_REQUIRED: dict[str, dict[str, type | tuple[type, ...]]] = {
    "snapshot": {"epoch": str, "seq": int, "state": dict},
    "event": {"epoch": str, "seq": int, "name": str, "data": dict},
    "heartbeat": {"epoch": str, "seq": int},
    "error": {"code": str, "message": str},
}


class BadFrame(ValueError):
    """A server frame that is not JSON or misses a field of its type."""


def parse_server_message(raw: str | bytes) -> dict[str, Any]:
    """Decode a server frame and check the fields its ``type`` needs.

    Args:
        raw: the frame as received.

    Returns:
        The decoded object. Frames of types this client does not know (``print`` for kiosk
        agents, future types) are returned unchecked beyond having a string ``type``.

    Raises:
        BadFrame: not a JSON object, no ``type``, or a known type with a missing or
            mistyped field (``seq`` must be a non-negative int, not a bool).
    """
    try:
        msg = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadFrame(f"expected a JSON object, got {str(raw)[:60]!r}: {exc}") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise BadFrame(f"expected an object with a string 'type', got {str(raw)[:60]!r}")
    for name, kind in _REQUIRED.get(msg["type"], {}).items():
        value = msg.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise BadFrame(f"{msg['type']} frame: expected {name!r} of type {kind}, got {value!r}")
    if "seq" in _REQUIRED.get(msg["type"], {}) and msg["seq"] < 0:
        raise BadFrame(f"{msg['type']} frame: seq must be >= 0, got {msg['seq']}")
    return msg
