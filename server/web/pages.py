"""The browser pages of the contract: each path serves one static HTML file.

Pages are plain HTML + CSS + ES modules (no build step, nothing from a CDN: a hall may be
offline). A page reads its parameters (hall, zone, window, token) from ``location`` and talks
to the server through the public HTTP and websocket contract only, so the same files work
against any hallq server. The HTML is re-validated on every load (``no-cache``) so a screen
that reloads after an upgrade gets the new version; assets are cached briefly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

import display
import kiosk

# Same-origin only; inline styles are allowed (small per-page tweaks), inline scripts are not.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self' ws: wss:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # pairing codes and status tokens stay out of Referer
}

# path → the HTML file that renders it (relative to its package's web/ folder)
PAGES: dict[str, tuple[Path, str]] = {
    "/pair/{code}": (display.WEB, "pair.html"),
    "/display/hall/{hall}/{zone}": (display.WEB, "hall.html"),
    "/display/window/{hall}/{window}": (display.WEB, "window.html"),
    "/terminal": (display.WEB, "terminal.html"),
    "/kiosk/{hall}": (kiosk.WEB, "kiosk.html"),
    "/guide/{hall}": (kiosk.WEB, "guide.html"),
    "/t/{status_token}": (kiosk.WEB, "status.html"),
}


def _page(folder: Path, name: str) -> Callable[[Request], Awaitable[Response]]:
    async def serve(_request: Request) -> Response:
        path = folder / name
        if not path.is_file():
            # a page of the contract this build does not ship yet: say so plainly
            return Response(
                "此页面尚未安装。This page is not installed in this build.",
                status_code=404,
                media_type="text/plain; charset=utf-8",
            )
        return FileResponse(path, media_type="text/html; charset=utf-8", headers=HEADERS)

    return serve


class _Static(StaticFiles):
    """Static assets with the pages' security headers and a short cache."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update({k: v for k, v in HEADERS.items() if k != "Cache-Control"})
        response.headers["Cache-Control"] = "max-age=60"
        return response


async def _no_icon(_request: Request) -> Response:
    return Response(status_code=204)  # browsers ask for it; a 404 would be logged as an error


routes: list[BaseRoute] = [
    Route("/favicon.ico", _no_icon, methods=["GET"]),
    *(Route(path, _page(folder, name), methods=["GET"]) for path, (folder, name) in PAGES.items()),
    Mount("/static/display", app=_Static(directory=display.WEB), name="static-display"),
    Mount("/static/kiosk", app=_Static(directory=kiosk.WEB), name="static-kiosk"),
]
