"""Policy text -> ParsedDocument: metadata, article units, nested documents.

The parser works on paragraphs (one per line after cleaning). A file is first
cut into segments, one per document it prints: a forwarding notice
(转发…的通知) starts a new segment at every 发文字号 line after content. Each
segment then has a header (title, 文号, 主送, the 印发/转发 boilerplate, the
signature) and a body of headings and paragraphs; the leaf headings that hold
text become articles.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from ingest.clean import clean_text
from ingest.errors import IngestError
from ingest.model import Article, ParsedDocument
from ingest.patterns import (
    ARTICLE,
    BIAN,
    JIE,
    SECTION,
    TIAO,
    ZHANG,
    Heading,
    arabic_section,
    date_line,
    docnum_line,
    find_docnums,
    is_org_name,
    is_tiao_line,
    is_title_like,
    law_heading,
    normalize_docnum,
    org_names,
    policy_heading,
)
from ingest.units import extract_units

logger = logging.getLogger(__name__)

_LEVEL = {BIAN: 0, ZHANG: 1, JIE: 2, TIAO: 3, SECTION: 3, ARTICLE: 4}
# Units that end a law or policy as a whole: the leaf kinds.
_LEAF = (TIAO, ARTICLE)

_RECIPIENTS = re.compile(r"(^各|人民政府|单位|部门|机关|机构|党委|管委会)")
_DISTRIBUTION = re.compile(
    r"(印发|转发|发)给你们|现将.{0,120}(印发|转发)|请.{0,20}(贯彻执行|遵照执行|认真执行|贯彻落实)。?$"
)
_QUOTED = re.compile(r"《([^《》]{2,80})》")
_CLOSING = re.compile(
    r"^(各|请各|全[省市县区州])[^。]{0,40}(要|应)"
    r"|^本(实施)?(意见|方案|通知|要点|办法|规定|细则|措施).{0,20}(自|由|施行)"
    r"|^(以上|上述).{0,20}(请|要)"
)
_ENACTMENT = re.compile(r"^本(实施)?(意见|方案|通知|要点|办法|规定|细则|措施).{0,20}(自|由|施行)")
_DROP_LINE = re.compile(r"^[（(]此件.{0,20}[）)]$|^抄送[:：]|^(特此通知|特此公告|特此通告)。?$")
# The 印发/转发 boilerplate is one or two sentences; longer text is content.
_MAX_DISTRIBUTION = 300
_TITLE_ORGS = re.compile(r"^(.+?)(关于|印发|转发)")


@dataclass
class _Unit:
    label: str
    path: list[str]
    lines: list[str]
    kind: str = ""  # heading kind, "" for unlabelled text
    heading_only: bool = False


@dataclass
class _Segment:
    doc: ParsedDocument
    mentions: list[str] = field(default_factory=list)


# Bumped whenever the same text would parse into different articles; a stored
# document parsed by an older version is parsed again when its file is ingested
# again (2: headings recovered in flattened one-line pages; 3: a bare last heading keeps its first
# line of text instead of losing it to the closing remarks).
PARSER_VERSION = "3"


def parse_policy(text: str, source_name: str | None = None) -> ParsedDocument:
    """Parse one policy file's text; documents it prints become children."""
    lines = [line.strip() for line in clean_text(text).split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        raise IngestError(source_name, "文件中没有可读取的文字", "请确认文件内容后重新上传")
    segments = [_parse_segment(chunk, source_name) for chunk in _split_segments(lines)]
    root = segments[0].doc
    for k in range(1, len(segments)):
        parent = root
        number = segments[k].doc.doc_number
        for j in range(k - 1, -1, -1):
            if number and number in segments[j].mentions:
                parent = segments[j].doc
                break
        parent.children.append(segments[k].doc)
    if not root.title:
        root.title = _fallback_title(lines[0], source_name)
    for doc in root.walk():
        doc.title = doc.title or root.title
    return root


def _split_segments(lines: list[str]) -> list[list[str]]:
    starts = [0]
    for i, line in enumerate(lines):
        if docnum_line(line) is None:
            continue
        start = i
        # The title of a printed document stands just above its 文号.
        while start - 1 > starts[-1] and i - start < 3 and is_title_like(lines[start - 1]):
            start -= 1
        if any(not is_title_like(x) and docnum_line(x) is None for x in lines[starts[-1] : start]):
            starts.append(start)
    bounds = [*starts, len(lines)]
    return [lines[a:b] for a, b in zip(bounds, bounds[1:])]


def _parse_segment(lines: list[str], source_name: str | None) -> _Segment:
    doc = ParsedDocument(title="", source_name=source_name)
    law = any(is_tiao_line(line) for line in lines)
    header_title: list[str] = []
    printed_title: str | None = None  # the document a 印发 notice prints
    forwarded: str | None = None  # the document a 转发 notice forwards
    merged = False
    seen_body = False
    after_signature = False
    units: list[_Unit] = []
    stack: list[tuple[int, str]] = []
    current: _Unit | None = None
    sections = _section_numbers(lines) if not law else []
    last_section = 0

    i = 0
    while i < len(lines):
        line = lines[i]
        signature = _signature_at(lines, i)
        if signature:
            end, issuers, date = signature
            if not doc.issuers and issuers:
                doc.issuers = issuers
            doc.publish_date = doc.publish_date or date
            i, after_signature = end, True
            continue
        heading = _heading(line, law, i, sections, last_section)
        if heading is None and not seen_body:
            number = docnum_line(line)
            if number:
                doc.doc_number = doc.doc_number or number
                i += 1
                continue
            if doc.recipients is None and _is_recipients(line):
                doc.recipients = line
                i += 1
                continue
            if current is None and len(line) <= _MAX_DISTRIBUTION and _DISTRIBUTION.search(line):
                quoted = _QUOTED.search(line)
                if quoted and ("转发" in line or "印发" not in line) and find_docnums(line):
                    forwarded = quoted.group(1)
                elif quoted:
                    printed_title, merged = quoted.group(1), True
                i += 1
                continue
            if current is None and is_title_like(line):
                if after_signature:
                    if not merged:
                        printed_title, merged = line, True
                    after_signature = False
                    i += 1
                    continue
                if not units and (not header_title or lines[i - 1] == header_title[-1]):
                    header_title.append(line)
                    i += 1
                    continue
        after_signature = False
        if _DROP_LINE.search(line):
            i += 1
            continue
        if heading is not None:
            seen_body = True
            if heading.kind == SECTION:
                last_section = heading.number
            _flush(current, units)
            level = _LEVEL[heading.kind]
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading.label))
            current = _Unit(
                heading.label,
                [label for _, label in stack],
                [line],
                heading.kind,
                heading_only=line.replace(" ", "") == heading.label.replace(" ", ""),
            )
        elif current is not None:
            current.lines.append(line)
        else:
            units.append(_Unit("", [], [line]))
        i += 1
    _flush(current, units)
    if not law:
        units = _split_closing(units)

    doc.articles = [_article(u) for u in units]
    _set_title(doc, header_title, printed_title if merged else None, forwarded)
    _doc_number_inline(doc, lines)
    mentions = find_docnums("\n".join(lines))
    return _Segment(doc, mentions)


def _heading(line: str, law: bool, index: int, sections: list[tuple[int, int]], last: int) -> Heading | None:
    if law:
        return law_heading(line)
    head = policy_heading(line)
    if head is not None:
        return head
    head = law_heading(line)
    if head is not None and head.kind != TIAO:
        return head
    # "2、 全面推进…" where "二、" belongs (seed 003): a short line whose number
    # continues the Chinese-numbered sections around it.
    mistyped = arabic_section(line)
    if mistyped and mistyped[0] == last + 1 and last > 0:
        later = [n for at, n in sections if at > index]
        if not later or later[0] == mistyped[0] + 1:
            return Heading(SECTION, mistyped[0], mistyped[1])
    return None


def _section_numbers(lines: list[str]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for at, line in enumerate(lines):
        head = policy_heading(line)
        if head is not None and head.kind == SECTION:
            out.append((at, head.number))
    return out


def _signature_at(lines: list[str], i: int) -> tuple[int, list[str], str] | None:
    """Organ lines followed by a date line -> (next index, issuers, date)."""
    issuers: list[str] = []
    j = i
    while j < len(lines) and j - i < 5 and not date_line(lines[j]):
        if not is_org_name(lines[j]) and not org_names(lines[j]):
            return None
        issuers.extend(org_names(lines[j]) or [lines[j]])
        j += 1
    if j >= len(lines):
        return None
    found = date_line(lines[j])
    if found is None:
        return None
    before, date = found
    issuers.extend(org_names(before))
    return j + 1, list(dict.fromkeys(issuers)), date


def _is_recipients(line: str) -> bool:
    return (
        line.endswith((":", "：")) and len(line) <= 300 and "。" not in line and bool(_RECIPIENTS.search(line))
    )


def _flush(unit: _Unit | None, units: list[_Unit]) -> None:
    """Keep a unit unless it is a bare section heading with nothing under it."""
    if unit is None:
        return
    if unit.kind not in _LEAF and unit.heading_only and len(unit.lines) == 1:
        return
    units.append(unit)


def _split_closing(units: list[_Unit]) -> list[_Unit]:
    """Closing instructions after the last article are their own unlabelled units."""
    if not units or not units[-1].label:
        return units
    last = units[-1]
    for j in range(1, len(last.lines)):
        # The first line under the last heading is that section's own text ("九、工作要求" /
        # "各县（市、区）医疗保障局要…"), unless it is the enactment clause (本通知自…施行).
        if j == 1 and last.lines[0].strip() == last.label.strip() and not _ENACTMENT.search(last.lines[j]):
            continue  # a bare heading line: what follows is its text
        if _CLOSING.search(last.lines[j]):
            closing = [_Unit("", [], [line]) for line in last.lines[j:]]
            last.lines = last.lines[:j]
            return [*units, *closing]
    return units


def _article(unit: _Unit) -> Article:
    text = "\n".join(unit.lines)
    lead, responsible = extract_units(text)
    return Article(unit.label, list(unit.path), text, lead, responsible)


def _set_title(doc: ParsedDocument, header: list[str], printed: str | None, forwarded: str | None) -> None:
    title = "".join(header)
    if printed:
        doc.title = printed
    elif title:
        doc.title = title
    elif forwarded:
        # The notice lost its title line (seed 004); name it by what it forwards.
        doc.title = f"转发《{forwarded}》的通知"
    if not doc.issuers and title:
        match = _TITLE_ORGS.match(title)
        if match:
            doc.issuers = org_names(match.group(1)) or ([match.group(1)] if is_org_name(match.group(1)) else [])


def _doc_number_inline(doc: ParsedDocument, lines: list[str]) -> None:
    """A 文号 glued to the start of the first line (scraped notices)."""
    if doc.doc_number is None and lines:
        number = normalize_docnum(lines[0][:30])
        if number and lines[0].startswith(number[:2]):
            doc.doc_number = number


def _fallback_title(first_line: str, source_name: str | None) -> str:
    """A title for a file without a title line: its opening words, or its name."""
    head = re.split(r"\s", first_line.strip(), maxsplit=1)[0]
    number = normalize_docnum(head)
    if number and head.startswith(number[:2]):
        head = re.sub(r"^.*?号", "", head, count=1)
    if 4 <= len(head) <= 60 and not re.search(r"[。；！？]", head):
        return head
    if source_name:
        return Path(source_name).stem
    return first_line[:30]
