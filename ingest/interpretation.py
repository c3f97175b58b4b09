"""Policy interpretations (政策解读) -> ParsedInterpretation.

Interpretations come as 问/答 pairs, as sections under headings (一、出台背景,
二、主要内容…) or as plain paragraphs. We keep each pair or section as one
unit, note the interpreting department (解读部门) and date, and record how the
text names the policy it interprets (文号 and/or 《title》) for knowledge/ to
resolve.
"""

from __future__ import annotations

import re
from pathlib import Path

from ingest.clean import clean_text
from ingest.errors import IngestError
from ingest.model import InterpretationSection, ParsedInterpretation
from ingest.patterns import DOCNUM, date_line, find_date, find_docnums, law_heading, normalize_docnum, policy_heading

_FIELD = re.compile(
    r"(解读部门|解读单位|解读机关|解读机构|起草部门|起草单位|发布机构|发布单位|来源|信息来源|"
    r"发布日期|发布时间|成文日期|日期|时间)\s*[:：]\s*"
)
_DEPARTMENT_FIELDS = ("解读部门", "解读单位", "解读机关", "解读机构", "起草部门", "起草单位", "发布机构", "发布单位", "来源", "信息来源")
_DATE_FIELDS = ("发布日期", "发布时间", "成文日期", "日期", "时间")
_SPOKESPERSON = re.compile(
    r"^(?:[^《》\s]{0,6}?)?([^《》，。\s]{2,24}?(?:厅|局|委员会|委|办公室|办|部|院|署|政府|中心))(?:有关|主要)?负责(?:人|同志)"
)
_QUESTION = re.compile(r"^(?:[一二三四五六七八九十\d]+[、.．]\s*)?(?:问题?\s*[\d一二三四五六七八九十]*|[一二三四五六七八九十]+问|Q\d*)\s*[:：.．、]\s*", re.I)
_ANSWER = re.compile(r"^(?:答|A)\s*[:：.．]\s*", re.I)
_QUOTED = re.compile(r"《([^《》]{2,80})》")


def looks_like_interpretation(text: str, filename: str = "") -> bool:
    """Whether a file is an interpretation rather than a policy."""
    if "解读" in Path(filename).stem:
        return True
    lines = [line.strip() for line in clean_text(text).split("\n") if line.strip()]
    if not lines:
        return False
    # Scraped notices can be one long line: only its opening words are a title.
    title = lines[0] if len(lines[0]) <= 80 else re.split(r"\s", lines[0], maxsplit=1)[0][:80]
    if "解读" in title or "答记者问" in title or "问答" in title:
        return True
    head = "\n".join(lines[:8])
    if re.search(r"解读(部门|单位|机关|机构)\s*[:：]", head):
        return True
    questions = sum(1 for line in lines if _QUESTION.match(line))
    answers = sum(1 for line in lines if _ANSWER.match(line))
    return questions >= 1 and answers >= 1


def parse_interpretation(text: str, source_name: str | None = None) -> ParsedInterpretation:
    """Parse an interpretation's title, department, date, sections and target policy."""
    lines = [line.strip() for line in clean_text(text).split("\n") if line.strip()]
    if not lines:
        raise IngestError(source_name, "文件中没有可读取的文字", "请确认文件内容后重新上传")
    result = ParsedInterpretation(title=lines[0], source_name=source_name)
    body: list[str] = []
    for at, line in enumerate(lines[1:], start=1):
        if _read_fields(line, result):
            continue
        found = date_line(line) if at <= 3 and len(line) <= 30 else None
        if found and result.publish_date is None:
            result.publish_date = found[1]
            continue
        body.append(line)
    if result.department is None:
        result.department = _spokesperson(lines[: 1 + min(len(body), 3)])
    result.sections = _qa_sections(body) or _heading_sections(body) or [InterpretationSection(line) for line in body]
    _find_policy(result, lines)
    return result


def _read_fields(line: str, result: ParsedInterpretation) -> bool:
    """Take 解读部门/发布日期/来源 fields from a metadata line; True if it held only fields."""
    matches = list(_FIELD.finditer(line))
    if not matches or matches[0].start() != 0 or len(line) > 120:
        return False
    for k, match in enumerate(matches):
        end = matches[k + 1].start() if k + 1 < len(matches) else len(line)
        value = line[match.end() : end].strip(" 　|｜")
        name = match.group(1)
        if name in _DEPARTMENT_FIELDS and value and result.department is None:
            result.department = value.split()[0]
        elif name in _DATE_FIELDS and value and result.publish_date is None:
            result.publish_date = find_date(value)
    return True


def _spokesperson(lines: list[str]) -> str | None:
    """"省人社厅负责人解读…" / "…负责同志就《…》答记者问"."""
    for line in lines:
        match = _SPOKESPERSON.search(line)
        if match:
            return match.group(1)
    return None


def _qa_sections(body: list[str]) -> list[InterpretationSection]:
    sections: list[InterpretationSection] = []
    question: str | None = None
    answer: list[str] = []
    intro: list[str] = []
    found = False

    def close() -> None:
        if question is not None:
            sections.append(InterpretationSection("\n".join(answer).strip(), question))

    for line in body:
        q = _QUESTION.match(line)
        a = _ANSWER.match(line)
        if q:
            close()
            found = True
            rest = line[q.end() :]
            # "问：…？答：…" on one line.
            inline = re.search(r"(?<=[？?])\s*答\s*[:：]", rest)
            question = rest[: inline.start()].strip() if inline else rest.strip()
            answer = [rest[inline.end() :].strip()] if inline else []
        elif question is not None and a:
            answer.append(line[a.end() :])
        elif question is not None:
            answer.append(line)
        else:
            intro.append(line)
    close()
    if not found:
        return []
    return [InterpretationSection(line) for line in intro] + sections


def _heading_sections(body: list[str]) -> list[InterpretationSection]:
    """Sections under 一、/（一）/第X headings, the heading standing as the question."""
    sections: list[InterpretationSection] = []
    heading: str | None = None
    parts: list[str] = []
    found = False
    for line in body:
        head = policy_heading(line) or law_heading(line)
        is_question = line.endswith(("？", "?")) and len(line) <= 60
        if head is not None or is_question:
            if heading is not None or parts:
                sections.append(InterpretationSection("\n".join(parts), heading))
            found = True
            label = head.label if head is not None else line
            heading = label
            rest = line[len(label) :].lstrip("。：: ") if head is not None and line.startswith(label) else ""
            parts = [rest] if rest else []
        else:
            parts.append(line)
    if heading is not None or parts:
        sections.append(InterpretationSection("\n".join(parts), heading))
    return sections if found else []


def _find_policy(result: ParsedInterpretation, lines: list[str]) -> None:
    titles = [m.group(1) for line in lines for m in _QUOTED.finditer(line)]
    result.policy_title = titles[0] if titles else None
    text = "\n".join(lines)
    numbers = find_docnums(text)
    if not numbers:
        return
    result.policy_doc_number = numbers[0]
    # Prefer the 文号 printed right after the policy's own 《title》 or in
    # "以…号文件印发": an interpretation also cites older documents.
    for match in DOCNUM.finditer(text):
        number = normalize_docnum(match.group(0))
        if number is None:
            continue
        start = match.start() + len(match.group(1)) - len(number.split("〔")[0])
        before = text[max(0, start - 120) : start]
        after_title = bool(result.policy_title) and re.search(
            rf"《{re.escape(result.policy_title or '')}》\s*[（(]?\s*$", before
        )
        if after_title or before.rstrip().endswith("以"):
            result.policy_doc_number = number
            return
