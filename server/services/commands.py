"""Runs a command in one transaction with its Idempotency-Key record, then publishes its events.

Idempotency: the key's row is inserted (ON CONFLICT DO NOTHING) in the command's own
transaction. On PostgreSQL a concurrent request with the same key blocks on that insert until
the first commits, inserts nothing and is answered from the stored response: ten concurrent
presses give ten identical replies and one ticket. A request still blocked after the lock
timeout gets 409 ``idempotency_in_flight``. On SQLite writes are serialised, so the second
simply finds the finished record.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from server.config import AppConfig
from server.domain.clock import Clock
from server.domain.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    HallqError,
    IdempotencyMismatch,
    Unauthorized,
)
from server.services import auth
from server.services.actors import Actor
from server.services.unit import Published, StoredReply, Unit, audit_row
from server.storage import fast
from server.storage.db import Database
from server.storage.tables import audit, idempotency

log = logging.getLogger("hallq.commands")

Action = Callable[[Unit], Awaitable[tuple[int, Any]]]

# Who a refused, unauthenticated request is audited as (R12).
ANONYMOUS = Actor(kind="public", id="anonymous", role="public")


class Credential(Protocol):
    """A bearer credential not yet checked (the web layer's token)."""

    @property
    def audit_detail(self) -> str:
        """What the audit row records of a refused credential (never the secret)."""
        ...

    @property
    def device_digest(self) -> str | None:
        """The stored hash when it is a device token (looked up with the key claim)."""
        ...

    async def resolve(self, conn: AsyncConnection, now: datetime) -> Actor:
        """The actor behind it, or Unauthorized."""
        ...


Publisher = Callable[[list[Published]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Reply:
    """A command's HTTP answer: status and the exact JSON bytes (replayed byte for byte)."""

    status: int
    body: bytes
    replayed: bool = False


# One encoder for every reply: json.dumps with options builds a new JSONEncoder per call.
_REPLY_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)
_CANONICAL_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def encode(payload: Any) -> bytes:
    return _REPLY_ENCODER.encode(payload).encode()


def fingerprint(method: str, path: str, body: bytes) -> str:
    """Hash of what a key promises: same method, path and (canonical JSON) body."""
    try:
        canonical = _CANONICAL_ENCODER.encode(json.loads(body)).encode()
    except ValueError:
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


def _claim_statement(insert: Callable[[Any], Any]) -> Any:
    """INSERT the key … ON CONFLICT DO NOTHING RETURNING key, in ``insert``'s dialect."""
    names = ("scope", "key", "request_hash", "created_at")
    return (
        insert(idempotency)
        .values({name: bindparam(name, type_=idempotency.c[name].type) for name in names})
        .on_conflict_do_nothing(index_elements=["scope", "key"])
        .returning(idempotency.c.key)
    )


# Built once, so SQLAlchemy reuses their compiled forms (see storage/tickets.py).
_CLAIM = {
    "postgresql": _claim_statement(postgresql.insert),
    "sqlite": _claim_statement(sqlite.insert),
}
# PostgreSQL: a device's token looked up and its Idempotency-Key claimed in one round trip
# (every kiosk issue and terminal call does both). Nothing is claimed for an unknown or
# revoked token; the scope is the device's ``Actor.audit_id``.
_DEVICE_AND_CLAIM = text(
    """
    WITH d AS (SELECT * FROM devices WHERE token_hash = :digest),
    c AS (
        INSERT INTO idempotency (scope, key, request_hash, created_at)
        SELECT left('device:' || d.id, 64), :key, :request_hash, :created_at
        FROM d WHERE d.revoked_at IS NULL
        ON CONFLICT (scope, key) DO NOTHING
        RETURNING key
    )
    SELECT d.*, (SELECT count(*) FROM c) AS claimed FROM d
    """
)
_STORED = select(idempotency).where(
    idempotency.c.scope == bindparam("scope"), idempotency.c.key == bindparam("key")
)


@contextmanager
def _in_flight_on_lock_timeout() -> Iterator[None]:
    """A claim still blocked after the lock timeout: the same key is being worked on."""
    try:
        yield
    except DBAPIError as exc:
        if "lock" in str(exc.orig).lower() and "timeout" in str(exc.orig).lower():
            raise Conflict(
                "该操作仍在处理中，请稍候。",
                "A request with this Idempotency-Key is still in flight.",
                code="idempotency_in_flight",
            ) from exc
        raise


class Commands:
    """Executes commands for the web layer, the CLI and tests."""

    def __init__(
        self, db: Database, config: AppConfig, clock: Clock, publish: Publisher | None = None
    ) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.publish = publish

    async def execute(
        self,
        actor: Actor | Credential,
        hall_id: str,
        action: Action,
        *,
        key: str | None = None,
        request_hash: str = "",
    ) -> Reply:
        """Run ``action`` in one transaction; replay a finished key; publish after commit.

        ``actor`` may be a ``Credential`` still to check: it is then resolved inside the
        command's transaction, saving the separate read transaction a lookup would cost.
        """
        hall = self.config.hall(hall_id)
        if key is not None and not 1 <= len(key) <= 255:
            raise BadRequest(
                "Idempotency-Key 长度须为 1–255 个字符。",
                "Idempotency-Key must be 1-255 characters.",
                code="validation_error",
                details={"fields": {"Idempotency-Key": "1-255 characters"}},
            )
        resolved: list[Actor] = [actor] if isinstance(actor, Actor) else []
        for attempt in range(2):
            try:
                return await self._attempt(actor, resolved, hall.id, action, key, request_hash)
            except IntegrityError:
                if attempt == 1 or key is None:
                    raise Conflict(
                        "操作冲突，请重试。",
                        "Conflicting concurrent change; retry.",
                        code="conflict",
                    ) from None
            except Unauthorized as exc:
                detail = None if isinstance(actor, Actor) else actor.audit_detail
                await self.audit_rejection(ANONYMOUS, hall.id, exc, detail=detail)
                raise
            except (Forbidden, Conflict) as exc:
                await self.audit_rejection(resolved[0] if resolved else ANONYMOUS, hall.id, exc)
                raise
        raise AssertionError("unreachable")

    async def _attempt(
        self,
        credential: Actor | Credential,
        resolved: list[Actor],
        hall_id: str,
        action: Action,
        key: str | None,
        request_hash: str,
    ) -> Reply:
        hall = self.config.hall(hall_id)
        async with self.db.write() as conn:
            now = self.clock.now()
            claimed = False
            if not resolved:
                assert not isinstance(credential, Actor)
                digest = credential.device_digest
                if key is not None and digest is not None and conn.dialect.name == "postgresql":
                    actor, claimed = await self._device_and_claim(
                        conn, digest, key, request_hash, now
                    )
                    resolved.append(actor)
                    if not claimed:
                        return await self._stored(conn, actor, key, request_hash)
                else:
                    resolved.append(await credential.resolve(conn, now))
            actor = resolved[0]
            if key is not None and not claimed:
                stored = await self._claim(conn, actor, key, request_hash, now)
                if stored is not None:
                    return stored
            unit = Unit(conn, hall, actor, now)
            status, payload = await action(unit)
            body = encode(payload)
            reply = (
                StoredReply(actor.audit_id[:64], key, status, body.decode())
                if key is not None
                else None
            )
            published = await unit.flush(reply)  # last: it takes the hall row
        if published and self.publish is not None:
            await self._publish(published)
        return Reply(status, body)

    async def _claim(
        self, conn: AsyncConnection, actor: Actor, key: str, request_hash: str, now: datetime
    ) -> Reply | None:
        """Take the key (one statement when it is new), or answer from its stored reply.

        ON CONFLICT DO NOTHING waits, on PostgreSQL, for a concurrent transaction holding the
        same key to finish; it then inserts nothing and the stored reply is read instead.
        """
        scope = actor.audit_id[:64]
        params = {"scope": scope, "key": key, "request_hash": request_hash, "created_at": now}
        with _in_flight_on_lock_timeout():
            claimed = (await fast.execute(conn, _CLAIM[conn.dialect.name], params)).first()
        if claimed is not None:
            return None
        return await self._stored(conn, actor, key, request_hash)

    async def _device_and_claim(
        self, conn: AsyncConnection, digest: str, key: str, request_hash: str, now: datetime
    ) -> tuple[Actor, bool]:
        """``_claim`` for a device token, looked up in the same statement (PostgreSQL)."""
        params = {"digest": digest, "key": key, "request_hash": request_hash, "created_at": now}
        with _in_flight_on_lock_timeout():
            row = (await fast.execute(conn, _DEVICE_AND_CLAIM, params)).first()
        if row is None or row.revoked_at is not None:
            raise auth.invalid_token()
        return auth.device_actor(row), row.claimed > 0

    async def _stored(
        self, conn: AsyncConnection, actor: Actor, key: str, request_hash: str
    ) -> Reply:
        """The reply stored under a key another request claimed first."""
        params = {"scope": actor.audit_id[:64], "key": key}
        row = (await fast.execute(conn, _STORED, params)).one()
        return self._replay(row, request_hash)

    @staticmethod
    def _replay(row: Any, request_hash: str) -> Reply:
        if row.request_hash != request_hash:
            raise IdempotencyMismatch(
                "同一个 Idempotency-Key 已用于另一个请求，请为新操作生成新的键。",
                "This Idempotency-Key was used with another request; use a new key.",
            )
        if row.status_code is None:  # written by a transaction that died before finishing
            raise Conflict(
                "该操作仍在处理中，请稍候。",
                "Request still in flight.",
                code="idempotency_in_flight",
            )
        return Reply(int(row.status_code), row.response.encode(), replayed=True)

    async def _publish(self, published: list[Published]) -> None:
        assert self.publish is not None
        try:
            await self.publish(published)
        except Exception:
            log.exception("publish after commit failed; the outbox relay will retry")

    async def audit_rejection(
        self, actor: Actor, hall_id: str | None, exc: HallqError, *, detail: str | None = None
    ) -> None:
        """Record a refused request (R12); never fails the request it records."""
        try:
            async with self.db.write() as conn:
                await conn.execute(
                    insert(audit).values(
                        audit_row(
                            actor,
                            hall_id,
                            "rejected",
                            self.clock.now(),
                            outcome=exc.code,
                            detail=detail,
                        )
                    )
                )
        except HallqError:
            log.warning("could not audit a rejected request (%s)", exc.code)

    async def read(
        self, fn: Callable[[AsyncConnection], Awaitable[Any]], *, snapshot: bool = False
    ) -> Any:
        async with self.db.read(snapshot=snapshot) as conn:
            return await fn(conn)

    async def purge_idempotency(self) -> int:
        """Forget keys older than the configured TTL (kept ≥ 24 h by default)."""
        cutoff = self.clock.now() - timedelta(hours=self.config.server.idempotency_ttl_h)
        async with self.db.write() as conn:
            result = await conn.execute(
                delete(idempotency).where(idempotency.c.created_at < cutoff)
            )
        return int(result.rowcount or 0)
