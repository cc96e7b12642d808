"""The HTTP half of the contract, under /api/v1."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.domain.errors import Forbidden, HallqError, not_found
from server.domain.model import Outcome, Ticket
from server.services import auth, calling, issuing, lookup, print_jobs
from server.services import history as history_service
from server.services import tickets as ticket_service
from server.services import windows as window_service
from server.services.commands import fingerprint
from server.services.snapshot import snapshot
from server.services.unit import Unit
from server.services.views import ticket_view
from server.storage import halls as hall_store
from server.storage import tickets as ticket_store
from server.storage.rows import ticket_from_row
from server.voice import web as voice_web
from server.web import devices, inputs, public_live, ticket_preview
from server.web.deps import actor, credential, idempotency_key, require_hall, state
from server.web.halls import hall_view

Action = Callable[[Unit], Awaitable[tuple[int, Any]]]


def _json(payload: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(payload, status_code=status)


async def _command(request: Request, hall_id: str, raw: bytes, action: Action) -> Response:
    cred = await credential(request)  # checked inside the command's own transaction
    st = state(request)
    reply = await st.commands.execute(
        cred,
        hall_id,
        action,
        key=idempotency_key(request),
        request_hash=fingerprint(request.method, request.url.path, raw),
    )
    headers = {"Idempotent-Replayed": "true"} if reply.replayed else {}
    return Response(
        reply.body, status_code=reply.status, media_type="application/json", headers=headers
    )


async def _body(request: Request) -> bytes:
    return await inputs.read_body(request, state(request).config.server.max_body_bytes)


async def list_halls(request: Request) -> Response:
    st = state(request)
    return _json([hall_view(h, None) for h in st.config.halls.values()])


async def get_hall(request: Request) -> Response:
    st = state(request)
    hall = st.config.hall(request.path_params["hall"])
    rows = await st.commands.read(lambda conn: hall_store.list_windows(conn, hall.id))
    return _json(hall_view(hall, rows))


async def get_snapshot(request: Request) -> Response:
    st = state(request)
    hall = st.config.hall(request.path_params["hall"])
    who = await actor(request)
    await require_hall(request, who, hall.id)
    now = st.clock.now()
    return _json(await st.commands.read(lambda conn: snapshot(conn, hall, now), snapshot=True))


async def window_history(request: Request) -> Response:
    """Today's ended visits at a window: its terminal, the staff signed in to it, managers."""
    st = state(request)
    hall = st.config.hall(request.path_params["hall"])
    window_id = request.path_params["window"]
    who = await actor(request)
    try:
        who.require_window(hall.id, window_id)
    except Forbidden as exc:
        await st.commands.audit_rejection(who, hall.id, exc)
        raise
    now = st.clock.now()
    return _json(
        await st.commands.read(
            lambda conn: history_service.window_history(conn, hall, window_id, now)
        )
    )


async def issue_ticket(request: Request) -> Response:
    raw = await _body(request)
    body = inputs.parse(inputs.IssueBody, raw)
    req = issuing.IssueRequest(body.queue, body.service, body.lane, body.channel)

    async def action(u: Unit) -> tuple[int, Any]:
        ticket = await issuing.issue(u, req)
        return 201, await ticket_service.view(u.conn, u.hall, ticket, new=True)

    return await _command(request, request.path_params["hall"], raw, action)


async def get_ticket(request: Request) -> Response:
    st = state(request)
    who = await actor(request)

    t: Ticket = await st.commands.read(
        lambda conn: ticket_service.load(conn, None, request.path_params["id"])
    )
    await require_hall(request, who, t.hall)
    hall = st.config.hall(t.hall)
    return _json(await st.commands.read(lambda conn: ticket_service.view(conn, hall, t)))


async def find_ticket(request: Request) -> Response:
    """GET /halls/{hall}/tickets?number=A005[&date=YYYY-MM-DD]: the guide desk's lookup."""
    st = state(request)
    hall = st.config.hall(request.path_params["hall"])
    who = await actor(request)
    await require_hall(request, who, hall.id)
    number = lookup.normalize_number(request.query_params.get("number"))
    day = lookup.parse_day(request.query_params.get("date"), hall, st.clock.now())
    try:
        found = await st.commands.read(
            lambda conn: lookup.find_by_number(conn, hall, who, number, day)
        )
    except Forbidden as exc:
        await st.commands.audit_rejection(who, hall.id, exc)
        raise
    return _json(found)


async def public_ticket(request: Request) -> Response:
    st = state(request)
    token = request.path_params["token"]

    async def read(conn: Any) -> dict[str, Any]:
        row = await ticket_store.get_by_token(conn, token)
        if row is None or len(token) < 16:
            raise not_found("ticket", "…", "票号")
        t = ticket_from_row(row)
        return ticket_service.public_view(
            await ticket_service.view(conn, st.config.hall(t.hall), t)
        )

    return _json(await st.commands.read(read))


def _window_command(
    body_model: type[inputs.Body], run: Callable[[Unit, str, Any], Awaitable[tuple[int, Any]]]
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        raw = await _body(request)
        body = inputs.parse(body_model, raw)
        window_id = request.path_params["window"]

        async def action(u: Unit) -> tuple[int, Any]:
            return await run(u, window_id, body)

        return await _command(request, request.path_params["hall"], raw, action)

    return endpoint


async def _ticket_reply(u: Unit, ticket: Any) -> tuple[int, Any]:
    if ticket is None:
        return 200, {"ticket": None}
    return 200, {"ticket": await ticket_service.view(u.conn, u.hall, ticket)}


async def _call_next(u: Unit, w: str, b: Any) -> tuple[int, Any]:
    return await _ticket_reply(u, await calling.call_next(u, w, finish_current=b.finish_current))


async def _call_number(u: Unit, w: str, b: Any) -> tuple[int, Any]:
    return await _ticket_reply(u, await calling.call_number(u, w, b.number))


async def _recall(u: Unit, w: str, _b: Any) -> tuple[int, Any]:
    return await _ticket_reply(u, await calling.recall(u, w))


async def _start(u: Unit, w: str, _b: Any) -> tuple[int, Any]:
    return await _ticket_reply(u, await calling.start(u, w))


async def _finish(u: Unit, w: str, b: Any) -> tuple[int, Any]:
    outcome = Outcome(b.outcome) if b.outcome else None
    return await _ticket_reply(u, await calling.finish(u, w, outcome))


async def _no_show(u: Unit, w: str, _b: Any) -> tuple[int, Any]:
    return await _ticket_reply(u, await calling.no_show(u, w))


async def _transfer(u: Unit, w: str, b: Any) -> tuple[int, Any]:
    t = await calling.transfer(u, w, queue_id=b.queue, target_window=b.window)
    return await _ticket_reply(u, t)


async def _open(u: Unit, w: str, _b: Any) -> tuple[int, Any]:
    return 200, window_service.window_view(await window_service.open_window(u, w))


async def _close(u: Unit, w: str, _b: Any) -> tuple[int, Any]:
    return 200, window_service.window_view(await window_service.close_window(u, w))


async def _pause(u: Unit, w: str, b: Any) -> tuple[int, Any]:
    return 200, window_service.window_view(await window_service.pause_window(u, w, b.reason))


async def _resume(u: Unit, w: str, _b: Any) -> tuple[int, Any]:
    return 200, window_service.window_view(await window_service.resume_window(u, w))


def _ticket_command(
    body_model: type[inputs.Body], run: Callable[[Unit, str, Any], Awaitable[tuple[int, Any]]]
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        raw = await _body(request)
        body = inputs.parse(body_model, raw)
        ticket_id = request.path_params["id"]
        st = state(request)
        t = await st.commands.read(lambda conn: ticket_service.load(conn, None, ticket_id))

        async def action(u: Unit) -> tuple[int, Any]:
            return await run(u, ticket_id, body)

        return await _command(request, t.hall, raw, action)

    return endpoint


async def _requeue(u: Unit, ticket_id: str, _b: Any) -> tuple[int, Any]:
    t = await ticket_service.requeue(u, ticket_id)
    return 200, await ticket_service.view(u.conn, u.hall, t)


async def _cancel(u: Unit, ticket_id: str, _b: Any) -> tuple[int, Any]:
    return 200, ticket_view(await ticket_service.cancel(u, ticket_id))


async def _evaluate(u: Unit, ticket_id: str, b: Any) -> tuple[int, Any]:
    return 201, await ticket_service.evaluate(u, ticket_id, b.rating, list(b.reasons), b.comment)


class ReprintBody(inputs.Body):
    device: str | None = Field(default=None, min_length=1, max_length=32)


async def _reprint(u: Unit, ticket_id: str, b: Any) -> tuple[int, Any]:
    return 201, await print_jobs.reprint(u, ticket_id, b.device)


_reprint_command = _ticket_command(ReprintBody, _reprint)


async def reprint_ticket(request: Request) -> Response:
    """A new print job for the same ticket (guide desk, managers, the issuing kiosk)."""
    response = await _reprint_command(request)
    rt = state(request).realtime
    if rt is not None:
        rt.hub.printing.wake()  # the kiosk may be connected to this process: skip the poll wait
    return response


async def login(request: Request) -> Response:
    body = inputs.parse(inputs.LoginBody, await _body(request))
    st = state(request)
    now = st.clock.now()
    ttl = st.config.server.staff_token_ttl_h
    # The password is checked outside the write transaction (Argon2 is slow on purpose).
    async with st.db.read() as conn:
        check = await auth.check_login(conn, body.username, body.password, now)
    refused: HallqError | None = None
    async with st.db.write() as conn:
        try:
            token, expires, staff = await auth.record_login(conn, check, now, ttl)
        except HallqError as exc:
            # The failure counter must persist: the transaction ends normally, then refuses.
            refused = exc
    if refused is not None:
        raise refused
    return _json({"token": token, "expires_at": expires.isoformat(), "staff": staff})


async def me(request: Request) -> Response:
    who = await actor(request)
    if who.kind not in ("staff", "device"):
        raise Forbidden("无效的凭证。", "Not a staff or device credential.")
    return _json(
        {
            "kind": who.kind,
            "id": who.id,
            "role": who.role,
            "hall": who.hall,
            "window": who.window,
            "zone": who.zone,
            "name": who.name,
        }
    )


routes = [
    Route("/halls", list_halls, methods=["GET"]),
    Route("/halls/{hall}", get_hall, methods=["GET"]),
    Route("/halls/{hall}/snapshot", get_snapshot, methods=["GET"]),
    Route("/halls/{hall}/windows/{window}/history", window_history, methods=["GET"]),
    Route("/halls/{hall}/tickets", issue_ticket, methods=["POST"]),
    Route("/halls/{hall}/tickets", find_ticket, methods=["GET"]),
    Route("/tickets/{id}", get_ticket, methods=["GET"]),
    Route("/public/tickets/{token}", public_ticket, methods=["GET"]),
    Route("/tickets/{id}/requeue", _ticket_command(inputs.EmptyBody, _requeue), methods=["POST"]),
    Route("/tickets/{id}/cancel", _ticket_command(inputs.EmptyBody, _cancel), methods=["POST"]),
    Route(
        "/tickets/{id}/evaluation",
        _ticket_command(inputs.EvaluationBody, _evaluate),
        methods=["POST"],
    ),
    Route("/tickets/{id}/reprint", reprint_ticket, methods=["POST"]),
    Route("/auth/login", login, methods=["POST"]),
    Route("/auth/me", me, methods=["GET"]),
    *devices.routes,
]

_WINDOW_ACTIONS: dict[str, tuple[type[inputs.Body], Any]] = {
    "call-next": (inputs.CallNextBody, _call_next),
    "call": (inputs.CallNumberBody, _call_number),
    "recall": (inputs.EmptyBody, _recall),
    "start": (inputs.EmptyBody, _start),
    "finish": (inputs.FinishBody, _finish),
    "no-show": (inputs.EmptyBody, _no_show),
    "transfer": (inputs.TransferBody, _transfer),
    "open": (inputs.EmptyBody, _open),
    "close": (inputs.EmptyBody, _close),
    "pause": (inputs.PauseBody, _pause),
    "resume": (inputs.EmptyBody, _resume),
}
routes += [
    Route(
        f"/halls/{{hall}}/windows/{{window}}/{name}", _window_command(model, run), methods=["POST"]
    )
    for name, (model, run) in _WINDOW_ACTIONS.items()
]
routes += [*public_live.routes, *ticket_preview.routes]
routes += voice_web.routes  # zone announcements, announcement audio
