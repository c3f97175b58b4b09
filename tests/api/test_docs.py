"""/docs works on an intranet: Swagger UI's script and style come from this app, not a CDN."""

from __future__ import annotations

import re


def referenced(html: str) -> list[str]:
    return re.findall(r"""(?:src|href|url)\s*[=:]\s*["']([^"']+)["']""", html)


def test_docs_page_loads_swagger_ui_from_this_origin_only(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "SwaggerUIBundle" in html
    assert "cdn" not in html.lower() and "http:" not in html and "https:" not in html and "//" not in html
    urls = referenced(html)
    assert urls and all(u.startswith("/") for u in urls), urls
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy

    scripts = [u for u in urls if u.endswith(".js")]
    styles = [u for u in urls if u.endswith(".css")]
    assert scripts and styles
    for url in scripts:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert "javascript" in asset.headers["content-type"]
        assert len(asset.content) > 100_000 and b"SwaggerUIBundle" in asset.content
    for url in styles:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["content-type"].startswith("text/css")
        assert len(asset.content) > 10_000 and b".swagger-ui" in asset.content
    schema = client.get(next(u for u in urls if u.endswith("openapi.json")))
    assert schema.status_code == 200 and "/api/v1/ask" in schema.json()["paths"]


def test_the_cdn_pages_fastapi_would_serve_are_off(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/redoc").status_code == 404
    assert client.get("/docs/oauth2-redirect").status_code == 404
