"""The websocket frames the server sends, as TypedDicts, and their one JSON encoding."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal, TypedDict


class EventFrame(TypedDict):
    type: Literal["event"]
    hall: str
    epoch: str
    seq: int
    name: str
    at: str
    data: dict[str, Any]


class SnapshotFrame(TypedDict):
    type: Literal["snapshot"]
    hall: str
    epoch: str
    seq: int
    state: dict[str, Any]


class HeartbeatFrame(TypedDict):
    type: Literal["heartbeat"]
    epoch: str
    seq: int


class ErrorFrame(TypedDict):
    type: Literal["error"]
    code: str
    message: str


def dumps(frame: Any) -> str:
    """Compact UTF-8 JSON: every frame is encoded once and shared by all its receivers."""
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"), default=str)


def event_frame(
    hall: str, epoch: str, seq: int, name: str, at: datetime, data: dict[str, Any]
) -> EventFrame:
    """An outbox row as the contract's event frame (the same shape as ``Published.message``)."""
    return {
        "type": "event",
        "hall": hall,
        "epoch": epoch,
        "seq": seq,
        "name": name,
        "at": at.isoformat(),
        "data": data,
    }


def snapshot_frame(state: dict[str, Any]) -> SnapshotFrame:
    """The contract's snapshot frame around a ``Snapshot`` (which carries hall, epoch, seq)."""
    return {
        "type": "snapshot",
        "hall": state["hall"],
        "epoch": state["epoch"],
        "seq": int(state["seq"]),
        "state": state,
    }


def heartbeat_frame(epoch: str, seq: int) -> HeartbeatFrame:
    return {"type": "heartbeat", "epoch": epoch, "seq": seq}


def error_frame(code: str, message: str) -> ErrorFrame:
    return {"type": "error", "code": code, "message": message}
