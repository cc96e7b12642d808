"""The limits and intervals of the real-time layer, in one frozen value (tests shorten them)."""

from __future__ import annotations

from dataclasses import dataclass

MAX_FRAME_BYTES = 64 * 1024  # also passed to uvicorn as ws_max_size


@dataclass(frozen=True, slots=True)
class RealtimeOptions:
    """Every bound of the websocket layer; the defaults are the production values."""

    queue_size: int = 256  # frames per connection before the slow-consumer close (1013)
    heartbeat_s: float = 4.0  # ≤ 5 s (contract)
    hello_timeout_s: float = 5.0  # no hello in time: close 4401
    tail_idle_s: float = 2.0  # outbox tail while the broadcast is healthy (safety net)
    tail_degraded_s: float = 0.2  # outbox tail while it is down (the delivery path)
    revocation_s: float = 0.5  # revoked devices are closed within this + one query
    sweep_s: float = 1.0  # relay: look for unpublished outbox rows this often ...
    sweep_age_s: float = 2.0  # ... and re-publish those unpublished for this long
    mark_s: float = 0.1  # relay: batch "published = true" updates this long
    replay_max: int = 1000  # a client this far behind gets a snapshot instead of a replay
    fanout_chunk: int = 200  # connections served per turn of the event loop in a fan-out
    snapshot_max_age_s: float = 1.0  # a cached snapshot (same seq) is reused this long
    rate_per_s: float = 20.0  # client messages per second per connection ...
    rate_burst: float = 20.0  # ... with this burst; beyond: close 1008
    max_frame_bytes: int = MAX_FRAME_BYTES
    max_depth: int = 8  # JSON nesting of client messages
