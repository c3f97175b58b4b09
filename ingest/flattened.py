"""Recover the paragraph breaks of flattened text, so inline headings start lines.

Scraped pages often arrive as one line with the headings inline
("…通知如下： 一、分类推进复工复产 （一）明确复工时间。…（二）…"); the structure
parser reads headings only at the start of a line. A line far longer than a
paragraph that carries at least two plausible headings is cut before each of
them, when such lines hold most of the text. A heading can start only where a
paragraph could (the start, whitespace or a sentence end), outside quotations,
and must continue a numbered sequence; a false heading is worse than a missed
one, so doubtful markers stay inline. Line-structured text is returned as is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.patterns import ARTICLE, BIAN, CN_DIGITS, CN_NUM, JIE, SECTION, TIAO, ZHANG, law_heading, policy_heading

# Paragraphs of real documents stay well below this; a whole notice does not.
_FLAT_LINE = 450
# Most of a flattened text sits in such lines; in a line-structured document a
# long paragraph is the exception, and its inline lists (：（一）…；（二）…) stay.
_FLAT_SHARE = 0.5
_MIN_HEADINGS = 2

_SENTENCE_END = "。；;！!？?：:"
_MARKER = re.compile(
    rf"(?P<section>{CN_NUM}、)"
    rf"|(?P<article>[（(]{CN_NUM}[）)])"
    rf"|(?P<law>第{CN_NUM}[编章节条])"
    r"|(?P<item>\d{1,2}[.．、](?!\d))"
)
# "一、二级医院", "一、2号楼": numerals listed, not a heading.
_NUMERAL = re.compile(rf"[{CN_DIGITS}十\d]")
# A short title after a 一、/（一） marker followed by whitespace was a line of its own.
_TITLE = re.compile(r"[^\s。；;！!？?，,：:]{2,38}\s+(?=\S)")
_OPEN_QUOTES, _CLOSE_QUOTES = "“「『", "”」』"
# Items (1. / 1、) break only inside recovered structure and never start a unit.
_ITEM = "item"
# A higher law division restarts the numbering of the lower ones (第二章 第一节).
_LOWER = {BIAN: (ZHANG, JIE), ZHANG: (JIE,)}


@dataclass
class _Marker:
    at: int
    end: int
    kind: str  # SECTION, ARTICLE, TIAO, "zhang"/"jie"/"bian" or _ITEM
    number: int
    spaced: bool  # whitespace before it: where the page had a line break
    listed: bool  # right after ；: the next entry of an inline list


@dataclass
class _Sequence:
    """Numbering seen so far in one line, to accept only the next number."""

    last: dict[str, int] = field(default_factory=dict)
    articles_in_section: int = 0
    articles_enumerate: bool = False  # （一） again within a section: a list, not headings

    def accept(self, marker: _Marker) -> bool:
        """Whether the marker continues a numbering; a line's own leading heading always does."""
        last = self.last.get(marker.kind, 0)
        follows = marker.number == last + 1 or marker.at == 0
        if marker.kind == SECTION:
            # Sections restart only as a new part of the page (a second list 一、二、…).
            ok = follows or (marker.number == 1 and last >= 2 and marker.spaced)
            if ok:
                self.articles_in_section = 0
        elif marker.kind == ARTICLE:
            restart = marker.number == 1 and self.articles_in_section == 0
            self.articles_enumerate |= marker.number == 1 and not restart
            ok = follows or restart
            if ok:
                self.articles_in_section += 1
        elif marker.kind == _ITEM:
            structured = any(n for kind, n in self.last.items() if kind != _ITEM)
            ok = structured and (follows or marker.number == 1)
        else:
            # 第X条 may open an excerpt at any number; 编/章/节 count from one.
            ok = follows or (marker.kind == TIAO and last == 0)
            if ok:
                self.last.update(dict.fromkeys(_LOWER.get(marker.kind, ()), 0))
        if ok:
            self.last[marker.kind] = marker.number
        return ok


def restore_line_breaks(text: str) -> str:
    """Cut evidently flattened lines before their inline headings; other text unchanged."""
    lines = text.split("\n")
    flat = sum(len(line) for line in lines if len(line) > _FLAT_LINE)
    if flat < _FLAT_SHARE * sum(len(line) for line in lines):
        return text
    return "\n".join(_unflatten(line) if len(line) > _FLAT_LINE else line for line in lines)


def _unflatten(line: str) -> str:
    sequence = _Sequence()
    accepted = [m for m in _markers(line) if sequence.accept(m)]
    if sequence.articles_enumerate:
        accepted = [m for m in accepted if m.kind != ARTICLE]
    accepted = _plausible_runs(accepted)
    if sum(1 for m in accepted if m.kind != _ITEM) < _MIN_HEADINGS:
        return line
    cuts = ({m.at for m in accepted} | {_title_end(line, m) for m in accepted}) - {0}
    bounds = [0, *sorted(cuts), len(line)]
    pieces = [line[a:b].strip() for a, b in zip(bounds, bounds[1:])]
    return "\n".join(p for p in pieces if p)


def _markers(line: str) -> list[_Marker]:
    """Heading-shaped markers where a paragraph could start, outside quotations."""
    out: list[_Marker] = []
    depth, scanned = 0, 0
    for match in _MARKER.finditer(line):
        at = match.start()
        for ch in line[scanned:at]:
            if ch in _OPEN_QUOTES:
                depth += 1
            elif ch in _CLOSE_QUOTES and depth:
                depth -= 1
        scanned = at
        before = line[at - 1] if at else ""
        if depth or not (at == 0 or before.isspace() or before in _SENTENCE_END):
            continue
        marker = _marker(line, match, before)
        if marker is not None:
            out.append(marker)
    return out


def _marker(line: str, match: re.Match[str], before: str) -> _Marker | None:
    at, rest = match.start(), line[match.start():]
    spaced, listed = before.isspace(), before in ("；", ";")
    if match.group("item"):
        return _Marker(at, match.end(), _ITEM, int(match.group("item")[:-1]), spaced, listed)
    if match.group("law"):
        head = law_heading(rest)  # None for cross-references (依照第十条规定)
        return _Marker(at, match.end(), head.kind, head.number, spaced, listed) if head else None
    head = policy_heading(rest)
    if head is None or head.number == 0:
        return None
    if head.kind == SECTION and _NUMERAL.match(line, match.end()):
        return None
    return _Marker(at, match.end(), head.kind, head.number, spaced, listed)


def _title_end(line: str, marker: _Marker) -> int:
    """Where the short title of a 一、/（一） heading ends before more text; 0 if none."""
    if marker.kind not in (SECTION, ARTICLE):
        return 0
    title = _TITLE.match(line, marker.end)
    return title.end() if title else 0


def _plausible_runs(markers: list[_Marker]) -> list[_Marker]:
    """Numbered runs of two or more, in text order.

    A heading run continued after ； ("包括：（一）姓名；（二）住址") is a list
    written inline and stays so.
    """
    keep: list[_Marker] = []
    for kind in {m.kind for m in markers}:
        runs: list[list[_Marker]] = []
        for marker in (m for m in markers if m.kind == kind):
            if runs and marker.number == runs[-1][-1].number + 1:
                runs[-1].append(marker)
            else:
                runs.append([marker])
        for run in runs:
            if len(run) >= 2 and (kind == _ITEM or not any(m.listed for m in run)):
                keep.extend(run)
    return sorted(keep, key=lambda m: m.at)
