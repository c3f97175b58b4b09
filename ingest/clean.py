"""Normalise text and strip website chrome before anything is indexed.

Pages copied from government sites carry breadcrumbs at the top, a footer at
the bottom (links, copyright, address, ICP number) and sometimes injected spam
(seed 000 names a casino in its copyright line). None of it may be quoted.
Footers are removed from the end upward and stop at the first line of real
content, so a policy sentence that merely mentions 地址 or 联系 survives.
"""

from __future__ import annotations

import re

from ingest.flattened import restore_line_breaks

_ZERO_WIDTH = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_LEADING_SPACE = re.compile(r"^[ \t\u00a0\u3000\u2002\u2003\u2009]+")

_BREADCRUMB = re.compile(
    r"^(当前位置|您的位置|你的位置|您现在的位置|您当前的位置|当前的位置|所在位置)\s*[:：]?"
    r"|^首页\s*[>＞»›/]"
)
# Lines that are chrome wherever they stand: nothing in a policy reads like them.
_CHROME_LINE = re.compile(
    r"^[【\[]?(打印本页|打印此页|关闭窗口|关闭本页|返回顶部|收藏本页|打印|关闭)[】\]]?"
    r"(\s*[|｜]?\s*[【\[]?(打印本页|打印此页|关闭窗口|关闭本页|返回顶部|收藏本页|打印|关闭)[】\]]?)*$"
    r"|^(分享到|字号|字体)\s*[:：]"
    r"|^扫一扫在手机(上)?打开当前页$"
)
# What site footers are made of. Matched only on short lines at the end.
_FOOTER = re.compile(
    r"设为首页|加入收藏|网站导航|网站地图|联系我们|常见问题|使用帮助|隐私声明|免责声明|版权所有|版权声明|"
    r"©|\(c\)|copyright|ICP|公网安备|网站标识码|主办单位|承办单位|协办单位|技术支持|维护单位|"
    r"^地址\s*[:：]|邮编\s*[:：]|邮政编码|^电话\s*[:：]|^传真\s*[:：]|建议使用.{0,20}浏览器|分辨率|"
    r"打印本页|关闭窗口|返回顶部|扫一扫|责任编辑|网站访问量|访问人数|本站",
    re.IGNORECASE,
)
_SPAM = re.compile(
    r"[a-z]*\d*365[a-z0-9]*\s*(官网|官方网站|体育|娱乐|平台|app)?|bet\d+|betway|"
    r"博彩|娱乐城|体育投注|真人娱乐|百家乐|赌场|老虎机|彩票网|网上赌|棋牌游戏|电子游艺|皇冠体育|澳门.{0,2}(葡京|赌)",
    re.IGNORECASE,
)
# A spam hit counts only next to these, so "全年365天" stays.
_SPAM_CONTEXT = re.compile(r"[a-z]|官网|博彩|娱乐|投注|赌|棋牌|彩票", re.IGNORECASE)
# Chrome glued to the end of single-line scraped notices (ncp).
_TAIL_CHROME = re.compile(r"\s(扫一扫在手机(上)?打开当前页|责任编辑\s*[:：]|清除所有标记|\[网络编辑\s*[:：])")

_MAX_FOOTER_LINE = 160
_MAX_TAIL = 300


def normalize(text: str) -> str:
    """Unify line endings, drop zero-width characters and leading indentation.

    Punctuation is kept as printed: citations quote the stored text.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ZERO_WIDTH.sub("", text).replace("\u00a0", " ")
    lines = [_LEADING_SPACE.sub("", line).rstrip() for line in text.split("\n")]
    out = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", out).strip("\n")


def is_spam(line: str) -> bool:
    """A gambling/casino advertisement injected into a page."""
    for match in _SPAM.finditer(line):
        if _SPAM_CONTEXT.search(match.group(0)):
            return True
    return False


def strip_chrome(text: str) -> str:
    """Remove breadcrumbs, footers, chrome lines and spam from normalised text."""
    lines = text.split("\n")
    lines = _drop_header(lines)
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].strip():
            lines[i] = _cut_tail(lines[i])
            break
    lines = _drop_footer(lines)
    kept: list[str] = []
    for line in lines:
        stripped = line.strip()
        if _CHROME_LINE.search(stripped):
            continue
        if is_spam(stripped):
            if len(stripped) <= _MAX_FOOTER_LINE:
                continue
            line = _SPAM.sub("", line)
        kept.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip("\n")


def clean_text(text: str) -> str:
    """Everything a parser needs before looking for structure.

    Chrome goes first: the tail of a one-line page is cut before the line is
    broken at its inline headings.
    """
    return restore_line_breaks(strip_chrome(normalize(text)))


def _drop_header(lines: list[str]) -> list[str]:
    """Breadcrumbs sit in the first few lines of a scraped page."""
    out = list(lines)
    for i, line in enumerate(out[:8]):
        if _BREADCRUMB.search(line.strip()) and len(line) <= _MAX_FOOTER_LINE:
            out[i] = ""
    return out


def _drop_footer(lines: list[str]) -> list[str]:
    end = len(lines)
    while end > 0:
        line = lines[end - 1].strip()
        if not line or (len(line) <= _MAX_FOOTER_LINE and (_FOOTER.search(line) or is_spam(line))):
            end -= 1
            continue
        break
    return lines[:end]


def _cut_tail(line: str) -> str:
    match = _TAIL_CHROME.search(line, max(0, len(line) - _MAX_TAIL))
    return line[: match.start()].rstrip() if match else line
