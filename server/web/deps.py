"""Per-request helpers: the app state, the authenticated actor, the idempotency key."""

from __future__ import annotations

from starlette.requests import Request

from server.domain.errors import Unauthorized
from server.services import auth
from server.services.actors import Actor
from server.web.state import AppState


def state(request: Request) -> AppState:
    value: AppState = request.app.state.hallq
    return value


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get("hallq_session")


async def actor(request: Request) -> Actor:
    """The caller, from a device token or a staff session; 401 without a valid one."""
    token = bearer(request)
    if token is None:
        raise Unauthorized(
            "请先登录或使用已登记的设备。",
            "Missing bearer token: send 'Authorization: Bearer <token>'.",
        )
    st = state(request)
    now = st.clock.now()
    return await st.commands.read(lambda conn: auth.authenticate(conn, token, now))


def idempotency_key(request: Request) -> str | None:
    return request.headers.get("idempotency-key")
