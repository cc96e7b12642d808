"""Per-request helpers: the app state, the authenticated actor, the idempotency key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request

from server.domain.errors import Forbidden, Unauthorized
from server.services import auth
from server.services.actors import Actor
from server.services.commands import ANONYMOUS
from server.web.state import AppState


def state(request: Request) -> AppState:
    value: AppState = request.app.state.hallq
    return value


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get("hallq_session")


@dataclass(frozen=True, slots=True)
class BearerToken:
    """A bearer token a command checks inside its own transaction (``Credential``)."""

    token: str

    @property
    def audit_detail(self) -> str:
        # A hash prefix tells which revoked or expired credential it was, never a person;
        # 10 hex digits can never form an 11-digit "mobile number" (R13 scans audit rows).
        return f"token sha256:{auth.hash_token(self.token)[:10]}"

    @property
    def device_digest(self) -> str | None:
        return auth.device_digest(self.token)

    async def resolve(self, conn: AsyncConnection, now: datetime) -> Actor:
        return await auth.authenticate(conn, self.token, now)


async def credential(request: Request) -> BearerToken:
    """The request's bearer token, unchecked; 401 (audited) when there is none."""
    token = bearer(request)
    if token is None:
        exc = Unauthorized(
            "请先登录或使用已登记的设备。",
            "Missing bearer token: send 'Authorization: Bearer <token>'.",
        )
        await state(request).commands.audit_rejection(
            ANONYMOUS, _path_hall(request), exc, detail="no token"
        )
        raise exc
    return BearerToken(token)


async def actor(request: Request) -> Actor:
    """The caller, from a device token or a staff session; 401 (audited) without a valid one."""
    cred = await credential(request)
    st = state(request)
    try:
        now = st.clock.now()
        who: Actor = await st.commands.read(lambda conn: cred.resolve(conn, now))
    except Unauthorized as exc:
        await st.commands.audit_rejection(
            ANONYMOUS, _path_hall(request), exc, detail=cred.audit_detail
        )
        raise
    return who


async def require_hall(request: Request, who: Actor, hall_id: str) -> None:
    """``who.require_hall`` for reads, auditing a refusal as commands do (R12)."""
    try:
        who.require_hall(hall_id)
    except Forbidden as exc:
        await state(request).commands.audit_rejection(who, hall_id, exc)
        raise


def _path_hall(request: Request) -> str | None:
    hall = request.path_params.get("hall")
    return hall if isinstance(hall, str) and hall in state(request).config.halls else None


def idempotency_key(request: Request) -> str | None:
    return request.headers.get("idempotency-key")
