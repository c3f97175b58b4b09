"""HTML page -> the text of its main content, without the site around it.

Government pages wrap one document in navigation, breadcrumbs, share buttons
and footers. We drop the elements that are chrome by tag or by class/id, then
keep the smallest element that still holds most of the Chinese text.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Tag

_DROP_TAGS = ("script", "style", "noscript", "template", "iframe", "form", "nav", "header", "footer", "aside", "button")
_CHROME_ATTR = re.compile(
    r"nav|menu|foot|breadcrumb|crumb|share|copyright|sidebar|side-bar|banner|toolbar|"
    r"location|position|bottom|topbar|top-bar|links|friendlink|print|qrcode|search",
    re.IGNORECASE,
)
_BLOCKS = ("p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "section", "article", "pre")
_CJK = re.compile(r"[\u4e00-\u9fff]")
# Descend into a child while it holds this share of its parent's Chinese text.
_DOMINANT = 0.8


def html_to_text(html: str) -> str:
    """Return the main content of an HTML page as lines of text."""
    soup = BeautifulSoup(html, "lxml")
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    body = soup.body or soup
    total = _cjk(body)
    for tag in list(body.find_all(True)):
        if tag.decomposed or not _is_chrome(tag):
            continue
        # A class like "content-nav-wrapper" may wrap the whole article: keep
        # anything that holds most of the page's text.
        if total and _cjk(tag) > total / 2:
            continue
        tag.decompose()
    main = _main_element(body)
    lines = _lines(main)
    heading = _title_outside(soup, main)
    if heading and (not lines or lines[0] != heading):
        lines.insert(0, heading)
    return "\n".join(lines)


def _is_chrome(tag: Tag) -> bool:
    if tag.attrs is None:
        return False
    names = " ".join([*tag.get("class", []), str(tag.get("id", ""))])
    return bool(names.strip()) and bool(_CHROME_ATTR.search(names))


def _cjk(tag: Tag) -> int:
    return len(_CJK.findall(tag.get_text()))


def _main_element(body: Tag) -> Tag:
    node = body
    while True:
        total = _cjk(node)
        children = [c for c in node.children if isinstance(c, Tag)]
        best = max(children, key=_cjk, default=None)
        if best is None or total == 0 or _cjk(best) < _DOMINANT * total:
            return node
        node = best


def _title_outside(soup: BeautifulSoup, main: Tag) -> str | None:
    """The page's h1 when the main element left it out (a title above the text)."""
    for h in soup.find_all(["h1", "h2"]):
        text = " ".join(h.get_text().split())
        if not text or not _CJK.search(text):
            continue
        inside = h is main or any(p is main for p in h.parents)
        return None if inside else text
    return None


def _lines(tag: Tag) -> list[str]:
    for br in tag.find_all("br"):
        br.replace_with("\n")
    for block in tag.find_all(_BLOCKS):
        block.insert_before("\n")
        block.insert_after("\n")
    for cell in tag.find_all(["td", "th"]):
        cell.insert_after("\t")
    text = tag.get_text()
    out: list[str] = []
    for line in text.split("\n"):
        line = re.sub(r"[ \t\u00a0]+", " ", line).strip()
        if line:
            out.append(line)
    return out
