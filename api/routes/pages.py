"""Web pages for citizens (chat), hotline agents (search) and departments (console).

The pages are static HTML and plain ES modules under `api/web/`; they call the
JSON API from the browser. Only files that exist in that folder at start-up are
served, so no request path ever reaches the file system.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

from knowledge.errors import NotFound

router = APIRouter(include_in_schema=False)

WEB = Path(__file__).resolve().parent.parent / "web"

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}

# Everything the pages load comes from this origin; a string that slipped
# through escaping still could not run an inline script or call elsewhere.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}

ASSETS = {p.name: p for p in WEB.iterdir() if p.suffix in MEDIA_TYPES} if WEB.is_dir() else {}


def serve(name: str) -> Response:
    path = ASSETS.get(name)
    if path is None:
        raise NotFound("页面不存在。")
    return Response(path.read_bytes(), media_type=MEDIA_TYPES[path.suffix], headers=HEADERS)


@router.get("/")
@router.get("/chat")
def chat_page() -> Response:
    return serve("chat.html")


@router.get("/agent")
def agent_page() -> Response:
    return serve("agent.html")


@router.get("/console")
def console_page() -> Response:
    return serve("console.html")


@router.get("/static/{name}")
def asset(name: str) -> Response:
    return serve(name)
