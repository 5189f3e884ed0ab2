"""The web UI: static files of autoheal/web and Bootstrap from xstatic, served with strict security headers."""

from __future__ import annotations

from pathlib import Path

import xstatic.pkg.bootstrap
from fastapi import FastAPI
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
BOOTSTRAP_DIR = Path(xstatic.pkg.bootstrap.BASE_DIR)

# The page runs only its own scripts and styles and talks only to its own origin; data: images
# are Bootstrap's inline SVG icons (select arrows, check marks).
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",  # revalidate (ETag), so that an upgraded autoheal serves its new page
}


class _Static(StaticFiles):
    """StaticFiles that adds the security headers to every answer."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(HEADERS)
        return response


def install(app: FastAPI) -> None:
    """Serve the UI at / (index.html), its modules at /ui/ and Bootstrap at /vendor/bootstrap/; no token
    needed: the page holds no data, every /api call it makes carries the token."""
    app.mount("/ui", _Static(directory=WEB_DIR), name="ui")
    app.mount("/vendor/bootstrap", _Static(directory=BOOTSTRAP_DIR), name="bootstrap")

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        body = (WEB_DIR / "index.html").read_bytes()
        return Response(body, media_type="text/html; charset=utf-8", headers=HEADERS)
