"""Every broadcast channel and key name hallq uses, in one place."""

from __future__ import annotations

PREFIX = "hallq"

# Control messages for every process (device revocation …), JSON objects with a "type".
CONTROL_CHANNEL = f"{PREFIX}:control"

# The redis listener always subscribes here and publishes a probe to it: redis-py cannot read
# a pubsub connection that has no subscription, and the echo proves the path end to end.
PROBE_CHANNEL = f"{PREFIX}:probe"


def hall_channel(hall_id: str) -> str:
    """The channel carrying a hall's event frames (the contract's ``event`` JSON, verbatim)."""
    return f"{PREFIX}:hall:{hall_id}"


def hall_of(channel: str) -> str | None:
    """The hall id of a ``hall_channel`` name, or None for any other channel."""
    head = f"{PREFIX}:hall:"
    return channel[len(head) :] if channel.startswith(head) else None
