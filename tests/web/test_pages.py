"""The page routes and static assets, without a browser."""

from __future__ import annotations

import re

import pytest

from api.routes.pages import WEB


@pytest.mark.parametrize(("path", "marker"), [("/", "政策咨询"), ("/chat", "政策咨询"),
                                              ("/agent", "政策检索"), ("/console", "部门工作台")])
def test_pages_are_served_with_a_strict_content_policy(client, path: str, marker: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert marker in response.text
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"


def test_scripts_are_served_as_javascript_modules(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/static/chat.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert client.get("/static/icon.svg").headers["content-type"] == "image/svg+xml"


@pytest.mark.parametrize("name", ["nope.js", "pages.py", "__init__.py", "..%2Fapp.py", "..%2F..%2Fpyproject.toml"])
def test_only_the_web_folder_files_are_served(client, name: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get(f"/static/{name}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    if "%2F" not in name:  # a slash never reaches the route at all
        assert response.json() == {"detail": "页面不存在。"}


def test_every_referenced_asset_exists_and_nothing_is_fetched_from_elsewhere() -> None:
    """Pages must work offline: every src/href/import points at this app's /static/."""
    names = {p.name for p in WEB.iterdir()}
    referenced: set[str] = set()
    for path in WEB.iterdir():
        if path.suffix not in {".html", ".js", ".css"}:
            continue
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)=["']https?:|import[^;]*["']https?:|@import|url\(\s*["']?https?:""", text), path
        referenced.update(re.findall(r"/static/([\w.-]+)", text))
    assert referenced and referenced <= names, referenced - names
    assert {"chat.js", "agent.js", "console.js", "common.js", "chart.js", "style.css"} <= referenced


def test_no_page_script_writes_markup() -> None:
    """Server text enters the DOM as text nodes only (the XSS rule of the pages)."""
    for path in WEB.glob("*.js"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", text), path


def test_browser_tests_skip_without_chromium_unless_required(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.web import conftest

    monkeypatch.setattr(conftest, "CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.delenv("POLICYBOT_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium"):
        conftest.require_browser()
    monkeypatch.setenv("POLICYBOT_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="chromium"):
        conftest.require_browser()
