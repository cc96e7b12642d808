"""HTTP routes of voice calls: a zone's announcements, and announcement audio.

- ``GET /halls/{hall}/zones/{zone}/announcements?after=SEQ[&max_age_s=N]``: display devices
  (and managers) of the hall; what a hall screen fills in after a reload or reconnection.
- ``GET /announcements/{id}.wav``: no credential. An ``<audio>`` element cannot send a bearer
  token, and the sound says only a ticket number and a window, which the screen beside it
  shows to the whole room. Ids are checked against the config before anything is rendered,
  renders run one at a time, and the bytes are cached on disk and in browsers (the id changes
  whenever the sentence or voice would).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.domain.errors import BadRequest, Forbidden
from server.voice.announcements import CHIME_ID
from server.voice.feed import zone_feed
from server.voice.speech import Speech
from server.web.deps import actor, require_hall, state

MAX_AGE_LIMIT_S = 86400
AUDIO_HEADERS = {"Cache-Control": "public, max-age=86400, immutable"}


async def zone_announcements(request: Request) -> Response:
    st = state(request)
    hall = st.config.hall(request.path_params["hall"])
    zone = hall.zone(request.path_params["zone"]).id
    who = await actor(request)
    await require_hall(request, who, hall.id)
    try:
        who.require_role("display", "manager")
    except Forbidden as exc:
        await st.commands.audit_rejection(who, hall.id, exc)
        raise
    after = _int_param(request, "after", 0, None)
    max_age = _int_param(request, "max_age_s", 1, MAX_AGE_LIMIT_S)
    now = st.clock.now()

    async def read(conn: Any) -> dict[str, Any]:
        return await zone_feed(conn, hall, zone, after, now, max_age)

    return JSONResponse(await st.commands.read(read, snapshot=True))


async def announcement_audio(request: Request) -> Response:
    speech = speech_for(request)
    audio_id = request.path_params["id"]
    data = speech.chime() if audio_id == CHIME_ID else await speech.wav(audio_id)
    return Response(data, media_type="audio/wav", headers=AUDIO_HEADERS)


def speech_for(request: Request) -> Speech:
    """The app's ``Speech``, made on first use (it holds no resources to close)."""
    app_state = request.app.state
    speech: Speech | None = getattr(app_state, "hallq_speech", None)
    if speech is None:
        speech = Speech(state(request).config)
        app_state.hallq_speech = speech
    return speech


def _int_param(request: Request, name: str, low: int, high: int | None) -> int | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    if text.isdigit() and len(text) <= 18 and low <= int(text) <= (high or int(text)):
        return int(text)
    bound = f"{low}–{high}" if high else f"≥ {low}"
    raise BadRequest(
        f"参数 {name} 应为整数（{bound}）。",
        f"Query parameter {name!r} must be a whole number {bound}, got {text[:20]!r}.",
        code="validation_error",
        details={"fields": {name: f"integer {bound}"}},
    )


routes = [
    Route("/halls/{hall}/zones/{zone}/announcements", zone_announcements, methods=["GET"]),
    Route("/announcements/{id}.wav", announcement_audio, methods=["GET"]),
]
