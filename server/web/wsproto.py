"""Client frames of ``/ws``, checked strictly before anything acts on them (no I/O here).

WsProblem
├── CloseWith    close the connection with ``code`` (1003, 1007, 1008, 1009, 4401, 4403 …)
└── ErrorReply   answer ``{"type":"error","code","message"}`` and keep the connection
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from server.config import ServerSettings

CLOSE_UNSUPPORTED = 1003  # binary frame
CLOSE_INVALID_DATA = 1007  # text that is not JSON
CLOSE_POLICY = 1008  # rate limit
CLOSE_TOO_BIG = 1009  # frame over 64 KiB
CLOSE_TRY_LATER = 1013  # slow consumer, store unavailable
CLOSE_UNAUTHORIZED = 4401  # no/late/bad hello, unknown token
CLOSE_FORBIDDEN = 4403  # wrong hall, foreign Origin, role, revoked device
CLOSE_UNKNOWN_HALL = 4404  # an admin asked for a hall that does not exist


class WsProblem(Exception):
    """A client frame hallq refuses; the endpoint turns it into a close or an error frame."""

    def __init__(self, code: int | str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class CloseWith(WsProblem):
    code: int


class ErrorReply(WsProblem):
    code: str


@dataclass(frozen=True, slots=True)
class Hello:
    """The first client frame. A malformed ``epoch``/``last_seq`` just means "snapshot"."""

    token: str
    hall: str | None
    epoch: str | None
    last_seq: int | None


def decode(message: Mapping[str, Any], *, max_bytes: int, max_depth: int) -> dict[str, Any]:
    """An ASGI ``websocket.receive`` message as a JSON object with a string ``type``."""
    text = message.get("text")
    if text is None:
        raise CloseWith(CLOSE_UNSUPPORTED, "binary frames are not accepted; send JSON text")
    if len(text) > max_bytes or len(text.encode()) > max_bytes:
        raise CloseWith(CLOSE_TOO_BIG, f"frame over {max_bytes} bytes")
    try:
        value = json.loads(text)
    except RecursionError:
        raise ErrorReply("too_deep", f"JSON nested deeper than {max_depth} levels") from None
    except ValueError:
        raise CloseWith(CLOSE_INVALID_DATA, "frame is not JSON; send a JSON object") from None
    if _depth(value) > max_depth:
        raise ErrorReply("too_deep", f"JSON nested deeper than {max_depth} levels")
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise ErrorReply("invalid_message", 'expected a JSON object with a string "type"')
    return value


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item)
    return deepest


def parse_hello(frame: dict[str, Any]) -> Hello:
    """The hello frame; anything else first closes with 4401."""
    if frame["type"] != "hello":
        raise CloseWith(CLOSE_UNAUTHORIZED, 'the first frame must be {"type":"hello","token":…}')
    token = frame.get("token")
    if not isinstance(token, str) or not 1 <= len(token) <= 512:
        raise CloseWith(CLOSE_UNAUTHORIZED, "hello needs a device or staff token")
    hall = frame.get("hall")
    if hall is not None and not isinstance(hall, str):
        raise CloseWith(CLOSE_FORBIDDEN, "hall must be a string (or left out)")
    epoch = frame.get("epoch")
    last_seq = frame.get("last_seq")
    return Hello(
        token=token,
        hall=hall,
        epoch=epoch if isinstance(epoch, str) and 0 < len(epoch) <= 64 else None,
        last_seq=last_seq
        if isinstance(last_seq, int) and not isinstance(last_seq, bool) and last_seq >= 0
        else None,
    )


PRINT_STATUSES = frozenset({"printed", "failed"})
PAPER = frozenset({"ok", "near_end", "out"})


def check_print_ack(frame: dict[str, Any]) -> None:
    """``{"type":"print.ack","job":id,"status":"printed"|"failed","reason":text}``."""
    if not isinstance(frame.get("job"), str) or frame.get("status") not in PRINT_STATUSES:
        raise ErrorReply("invalid_message", 'print.ack needs "job" and "status" printed|failed')
    reason = frame.get("reason")
    if reason is not None and not (isinstance(reason, str) and len(reason) <= 200):
        raise ErrorReply("invalid_message", '"reason" must be text of at most 200 characters')


def check_device_status(frame: dict[str, Any]) -> None:
    """``{"type":"device.status","printer":{"online","paper","cover_open"}}``."""
    printer = frame.get("printer")
    if not (
        isinstance(printer, dict)
        and isinstance(printer.get("online"), bool)
        and printer.get("paper") in PAPER
        and isinstance(printer.get("cover_open"), bool)
    ):
        raise ErrorReply(
            "invalid_message",
            'device.status needs printer {"online":bool,"paper":ok|near_end|out,"cover_open":bool}',
        )


class TokenBucket:
    """``rate`` messages per second with bursts of ``burst``; ``take`` says whether one fits."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


def allowed_origins(settings: ServerSettings) -> frozenset[str]:
    """Browser Origins accepted: ``allowed_origins`` plus the origin of ``public_base_url``."""
    parts = urlsplit(settings.public_base_url)
    return frozenset({*settings.allowed_origins, f"{parts.scheme}://{parts.netloc}"})
