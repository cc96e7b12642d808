"""``POST /api/v1/devices/pair``: a browser device trades its pairing code for its token.

``hallq device add`` prints a single-use pairing URL ``/pair/{code}`` valid ten minutes; the
page posts the code here and stores the answer. No bearer token is needed (the code is the
credential) and none is accepted in its place. A refused code is audited like every other
rejection, identified by a hash prefix of the code, never the code itself.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.config import HallConfig
from server.domain.errors import Unauthorized
from server.services import auth
from server.services.actors import Actor
from server.services.commands import ANONYMOUS
from server.services.unit import audit_row
from server.storage.tables import audit
from server.web import inputs
from server.web.deps import state


class PairBody(inputs.Body):
    code: str = Field(min_length=1, max_length=128)


def device_page(device: Actor, hall: HallConfig | None) -> str | None:
    """The page a paired device opens: where it belongs in its hall.

    A display bound to a window is that window's screen; any other display is a hall screen,
    of its zone or, when enrolled without one, of the hall's first zone. Evaluators are caller
    hardware with no page of their own (``None``).
    """
    if device.hall is None:
        return None
    if device.role == "display":
        if device.window:
            return f"/display/window/{device.hall}/{device.window}"
        zone = device.zone or (next(iter(hall.zones), None) if hall is not None else None)
        return f"/display/hall/{device.hall}/{zone}" if zone else None
    if device.role == "terminal":
        return "/terminal"
    if device.role == "kiosk":
        return f"/kiosk/{device.hall}"
    return None


async def pair(request: Request) -> Response:
    st = state(request)
    raw = await inputs.read_body(request, st.config.server.max_body_bytes)
    body = inputs.parse(PairBody, raw)
    now = st.clock.now()
    try:
        async with st.db.write() as conn:
            token, device = await auth.redeem_pairing(conn, body.code, now)
            await conn.execute(
                audit.insert().values(
                    audit_row(device, device.hall, "device.paired", now, window=device.window)
                )
            )
    except Unauthorized as exc:
        detail = f"pairing code sha256:{auth.hash_token(body.code)[:10]}"
        await st.commands.audit_rejection(ANONYMOUS, None, exc, detail=detail)
        raise
    hall = st.config.halls.get(device.hall) if device.hall else None
    answer: dict[str, Any] = {
        "token": token,
        "hall": device.hall,
        "role": device.role,
        "window": device.window,
        "zone": device.zone,
        "page": device_page(device, hall),
    }
    # The answer holds a fresh credential: no cache, no proxy, no history may keep it.
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


routes = [Route("/devices/pair", pair, methods=["POST"])]
