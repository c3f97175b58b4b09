"""Web pages for citizens (chat), hotline agents (search) and departments (console).

The pages are static HTML and plain ES modules under `api/web/`; they call the
JSON API from the browser. Only files that exist in that folder at start-up are
served, so no request path ever reaches the file system.

`/docs` is Swagger UI over the OpenAPI schema, its script and style served from
the swagger-ui-bundle-v2 package (mounted at SWAGGER_UI by the app), never a CDN.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

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

# Swagger UI runs FastAPI's inline start-up script; everything else still comes from this origin.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
SWAGGER_UI = "/static/swagger-ui"

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


@router.get("/docs")
def api_docs(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "").rstrip("/")
    page = get_swagger_ui_html(
        openapi_url=root + (request.app.openapi_url or "/openapi.json"),
        title=f"{request.app.title} 接口文档",
        swagger_js_url=f"{root}{SWAGGER_UI}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{SWAGGER_UI}/swagger-ui.css",
        swagger_favicon_url=f"{root}{SWAGGER_UI}/favicon-32x32.png",
    )
    page.headers.update({**HEADERS, "Content-Security-Policy": DOCS_CSP})
    return page
