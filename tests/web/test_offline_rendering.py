"""What a browser on an intranet server shows: Chinese in real glyphs, and /docs without a CDN."""

from __future__ import annotations

from tests.web.browser import find, find_all, wait_text

# Draws each character in the page's own font and returns the pixels: without a CJK font every
# one of them is the same empty box (tofu), so two different characters come out identical.
GLYPHS = """
const canvas = document.createElement("canvas");
canvas.width = canvas.height = 64;
const g = canvas.getContext("2d");
g.font = `48px ${getComputedStyle(document.body).fontFamily}`;
return arguments[0].map((ch) => {
  g.clearRect(0, 0, 64, 64);
  g.fillText(ch, 4, 52);
  return canvas.toDataURL();
});
"""


def test_chinese_renders_in_real_glyphs_not_boxes(page, live_server) -> None:  # type: ignore[no-untyped-def]
    page.get(live_server.url + "/chat")
    find(page, "#question")
    blank, *glyphs = page.execute_script(GLYPHS, [" ", "政", "策", "医", "保"])
    assert all(g != blank for g in glyphs), "CJK characters draw nothing: install fonts-noto-cjk"
    assert len(set(glyphs)) == len(glyphs), "CJK characters are drawn as boxes: install fonts-noto-cjk"


def test_docs_renders_the_api_from_local_files(page, live_server) -> None:  # type: ignore[no-untyped-def]
    page.get(live_server.url + "/docs")
    wait_text(page, "#swagger-ui", "/api/v1/ask", timeout=30)
    paths = {p.text.replace("\u200b", "") for p in find_all(page, ".opblock-summary-path")}
    assert {"/api/v1/ask", "/api/v1/search", "/api/v1/stats"} <= paths
    loaded = page.execute_script("return performance.getEntriesByType('resource').map((r) => r.name)")
    assert loaded and all(url.startswith(live_server.url + "/") for url in loaded), loaded
