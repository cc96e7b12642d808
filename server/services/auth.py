"""Staff accounts (Argon2id), staff sessions and enrolled devices; tokens stored hashed.

Tokens are 32 random bytes, so a fast SHA-256 is enough to store them: unlike passwords they
cannot be guessed from a dictionary. Passwords use Argon2id, verified off the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.errors import BadRequest, Conflict, RateLimited, Unauthorized, not_found
from server.services.actors import DEVICE_ROLES, STAFF_ROLES, Actor
from server.storage import fast
from server.storage.ids import new_id
from server.storage.tables import devices, login_failures, staff, staff_sessions

# Argon2id with a bounded cost: ~50 ms on these machines, 64 MiB; login is rare.
HASHER = PasswordHasher(time_cost=2, memory_cost=65536, parallelism=1)
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=5)
PAIRING_TTL = timedelta(minutes=10)
# Verified against unknown usernames so both answers take the same time.
_DUMMY_HASH = HASHER.hash("hallq-dummy-password")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


@dataclass(frozen=True, slots=True)
class NewDevice:
    id: str
    token: str
    pairing_code: str


async def add_staff(
    conn: AsyncConnection,
    *,
    username: str,
    name: str,
    role: str,
    hall: str | None,
    password: str,
    now: datetime,
    code: str | None = None,
) -> str:
    """Create a staff account; returns its id."""
    if role not in STAFF_ROLES:
        raise BadRequest(
            f"角色「{role}」无效。",
            f"Unknown staff role {role!r}.",
            code="validation_error",
            details={"fields": {"role": sorted(STAFF_ROLES)}},
        )
    if len(password) < 8:
        raise BadRequest(
            "密码至少 8 位。",
            "Passwords need at least 8 characters.",
            code="validation_error",
            details={"fields": {"password": ">= 8 chars"}},
        )
    exists = (await conn.execute(select(staff.c.id).where(staff.c.username == username))).first()
    if exists is not None:
        raise Conflict(
            f"用户名 {username} 已存在。", f"Username {username!r} exists.", code="username_taken"
        )
    staff_id = new_id()
    digest = await asyncio.to_thread(HASHER.hash, password)
    await conn.execute(
        staff.insert().values(
            id=staff_id,
            username=username,
            name=name,
            role=role,
            hall_id=hall,
            code=code or f"{secrets.randbelow(10000):04d}",
            password_hash=digest,
            created_at=now,
        )
    )
    return staff_id


@dataclass(frozen=True, slots=True)
class LoginCheck:
    """The outcome of a password check, before anything of it is written."""

    key: str  # the throttling key: a hash of the username
    staff: Any | None  # the staff row when the password was right and the account active


async def check_login(
    conn: AsyncConnection, username: str, password: str, now: datetime
) -> LoginCheck:
    """Verify a password; reads only, so it needs no write transaction.

    Argon2 takes tens of milliseconds on purpose: on SQLite, doing it inside a write
    transaction held the one write lock that long, and no kiosk could issue meanwhile.
    """
    key = hash_token("login:" + username.strip().lower())
    await _refuse_if_locked(conn, key, now)
    row = (await conn.execute(select(staff).where(staff.c.username == username))).first()
    ok = await asyncio.to_thread(_verify, row.password_hash if row else _DUMMY_HASH, password)
    return LoginCheck(key, row if row is not None and ok and row.active else None)


async def record_login(
    conn: AsyncConnection, check: LoginCheck, now: datetime, ttl_h: int
) -> tuple[str, datetime, dict[str, Any]]:
    """Write what a checked login leads to: a session, or one more counted failure.

    Raises Unauthorized after counting a failure: the caller commits before answering, so
    the count persists. Failures are counted per username (hashed), whether or not the
    account exists, so the answers for an unknown user and a wrong password are the same,
    throttling included (R14).
    """
    row = check.staff
    if row is None:
        await _count_failure(conn, check.key, now)
        raise Unauthorized("用户名或密码错误。", "Wrong username or password.", code="login_failed")
    await conn.execute(delete(login_failures).where(login_failures.c.key == check.key))
    token = new_token("hqs")
    expires = now + timedelta(hours=ttl_h)
    await conn.execute(
        staff_sessions.insert().values(
            token_hash=hash_token(token),
            staff_id=row.id,
            hall_id=row.hall_id,
            expires_at=expires,
            created_at=now,
        )
    )
    view = {
        "id": row.id,
        "username": row.username,
        "name": row.name,
        "code": row.code,
        "role": row.role,
        "hall": row.hall_id,
    }
    return token, expires, view


async def login(
    conn: AsyncConnection, username: str, password: str, now: datetime, ttl_h: int
) -> tuple[str, datetime, dict[str, Any]]:
    """``check_login`` and ``record_login`` on one connection (the CLI and tests)."""
    check = await check_login(conn, username, password, now)
    return await record_login(conn, check, now, ttl_h)


async def _refuse_if_locked(conn: AsyncConnection, key: str, now: datetime) -> None:
    stmt = select(login_failures.c.locked_until).where(login_failures.c.key == key)
    locked_until = (await conn.execute(stmt)).scalar_one_or_none()
    if locked_until is not None and locked_until > now:
        wait = int((locked_until - now).total_seconds()) + 1
        raise RateLimited(
            "登录失败次数过多，请稍后再试。",
            "Too many failed logins; try again later.",
            retry_after=wait,
        )


def _verify(digest: str, password: str) -> bool:
    try:
        return HASHER.verify(digest, password)
    except (VerificationError, InvalidHashError):
        return False


async def _count_failure(conn: AsyncConnection, key: str, now: datetime) -> None:
    stmt = select(login_failures.c.failures).where(login_failures.c.key == key)
    before = (await conn.execute(stmt)).scalar_one_or_none()
    failures = (before or 0) + 1
    locked = now + LOCKOUT if failures >= MAX_FAILED_LOGINS else None
    values = {"failures": 0 if locked else failures, "locked_until": locked, "updated_at": now}
    if before is None:
        await conn.execute(login_failures.insert().values(key=key, **values))
    else:
        await conn.execute(
            update(login_failures).where(login_failures.c.key == key).values(**values)
        )


async def add_device(
    conn: AsyncConnection,
    *,
    hall: str,
    role: str,
    name: str,
    window: str | None,
    zone: str | None,
    now: datetime,
    pairing_ttl: timedelta = PAIRING_TTL,
) -> NewDevice:
    """Enroll a device; its token and a single-use pairing code are returned once.

    ``pairing_ttl`` is 10 minutes for real devices; the demo prints its pairing links long
    before anyone clicks them, so it asks for longer.
    """
    if role not in DEVICE_ROLES:
        raise BadRequest(
            f"设备角色「{role}」无效。",
            f"Unknown device role {role!r}.",
            code="validation_error",
            details={"fields": {"role": sorted(DEVICE_ROLES)}},
        )
    if role in ("terminal", "evaluator") and not window:
        raise BadRequest(
            "窗口终端和评价器必须绑定窗口（--window）。",
            f"A {role} device must be bound to a window (--window).",
            code="validation_error",
            details={"fields": {"window": "required"}},
        )
    device_id = new_id(16)
    token, code = new_token("hqd"), secrets.token_urlsafe(12)
    await conn.execute(
        devices.insert().values(
            id=device_id,
            hall_id=hall,
            role=role,
            window_id=window,
            zone_id=zone,
            name=name,
            token_hash=hash_token(token),
            pairing_hash=hash_token(code),
            pairing_expires_at=now + pairing_ttl,
            created_at=now,
        )
    )
    return NewDevice(device_id, token, code)


async def revoke_device(conn: AsyncConnection, device_id: str, now: datetime) -> None:
    result = await conn.execute(
        update(devices)
        .where(devices.c.id == device_id, devices.c.revoked_at.is_(None))
        .values(revoked_at=now, pairing_hash=None)
    )
    if result.rowcount != 1:
        raise not_found("device", device_id, "设备")


async def redeem_pairing(conn: AsyncConnection, code: str, now: datetime) -> tuple[str, Actor]:
    """Exchange a pairing code (single use, 10 minutes) for a fresh device token."""
    row = (
        await conn.execute(select(devices).where(devices.c.pairing_hash == hash_token(code)))
    ).first()
    if row is None or row.revoked_at is not None or row.pairing_expires_at < now:
        raise Unauthorized(
            "配对码无效或已过期，请管理员重新生成。",
            "Pairing code unknown, used or expired; enroll again.",
            code="pairing_invalid",
        )
    token = new_token("hqd")
    # Guarded on the code itself: of two browsers redeeming the same code at once (READ
    # COMMITTED lets both read the row), only the one whose update still finds it wins.
    result = await conn.execute(
        update(devices)
        .where(devices.c.id == row.id, devices.c.pairing_hash == hash_token(code))
        .values(token_hash=hash_token(token), pairing_hash=None)
    )
    if result.rowcount != 1:
        raise Unauthorized(
            "配对码已被使用，请管理员重新生成。",
            "Pairing code was redeemed by another request; enroll again.",
            code="pairing_invalid",
        )
    return token, device_actor(row)


async def authenticate(conn: AsyncConnection, token: str, now: datetime) -> Actor:
    """The actor behind a bearer token (device or staff session)."""
    digest = hash_token(token)
    if token.startswith("hqd_"):
        row = (await fast.execute(conn, _DEVICE_BY_TOKEN, {"digest": digest})).first()
        if row is not None and row.revoked_at is None:
            return device_actor(row)
    elif token.startswith("hqs_"):
        actor = await _staff_actor(conn, digest, now)
        if actor is not None:
            return actor
    raise invalid_token()


def device_digest(token: str) -> str | None:
    """The stored hash of a device token; None for anything else (staff sessions)."""
    return hash_token(token) if token.startswith("hqd_") else None


def invalid_token() -> Unauthorized:
    return Unauthorized(
        "登录已失效或凭证无效，请重新登录。",
        "Invalid, expired or revoked token; sign in again.",
        code="unauthorized",
    )


# Every command looks its caller up: built once (storage/fast.py runs them on the driver).
_DEVICE_BY_TOKEN = select(devices).where(devices.c.token_hash == bindparam("digest"))
_STAFF_BY_TOKEN = (
    select(
        staff_sessions.c.staff_id,
        staff_sessions.c.hall_id,
        staff_sessions.c.window_id,
        staff_sessions.c.expires_at,
        staff.c.role,
        staff.c.name,
        staff.c.active,
        staff.c.hall_id.label("home_hall"),
    )
    .join(staff, staff.c.id == staff_sessions.c.staff_id)
    .where(staff_sessions.c.token_hash == bindparam("digest"))
)


async def _staff_actor(conn: AsyncConnection, digest: str, now: datetime) -> Actor | None:
    row = (await fast.execute(conn, _STAFF_BY_TOKEN, {"digest": digest})).first()
    if row is None or row.expires_at <= now or not row.active:
        return None
    return Actor(
        kind="staff",
        id=row.staff_id,
        role=row.role,
        hall=row.home_hall or row.hall_id,
        window=row.window_id,
        name=row.name,
        token_hash=digest,
    )


def device_actor(row: Any) -> Actor:
    return Actor(
        kind="device",
        id=row.id,
        role=row.role,
        hall=row.hall_id,
        window=row.window_id,
        zone=row.zone_id,
        name=row.name,
    )
