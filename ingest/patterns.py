"""Line-level patterns of Chinese official documents.

Each function looks at one stripped line (a paragraph as printed) and says
what it is: a heading of some level, a 发文字号 (doc_number), a signature
date, an issuing organ, a title. Headings are recognised only at the start of
a line, so cross-references such as "依照第十条" never become headings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CN_DIGITS = "零〇一二三四五六七八九两"
CN_NUM = r"[零〇一二三四五六七八九十百千两]+"

# Heading kinds, outermost first. Law documents use bian..tiao; policies use
# section (一、) and article (（一）); items (1. / （1）) never start a unit.
BIAN, ZHANG, JIE, TIAO, SECTION, ARTICLE = "bian", "zhang", "jie", "tiao", "section", "article"

_LAW_HEAD = re.compile(rf"^第\s*({CN_NUM}|\d+)\s*([编章节])")
_TIAO = re.compile(rf"^第\s*({CN_NUM}|\d+)\s*条(?P<rest>.*)$")
# After 第X条 a cross-reference continues with words like 规定/的/所; a heading
# continues with a space or the article's own sentence.
_TIAO_XREF = re.compile(r"^(规定|的|所|之|中|至|、|和|或|及|第|款|项|，|,)")
_SECTION = re.compile(rf"^({CN_NUM})\s*[、，,．.]\s*")
_ARTICLE = re.compile(rf"^[（(]\s*({CN_NUM})\s*[）)]\s*")
_ARABIC_SECTION = re.compile(r"^(\d{1,2})\s*、\s*")

DOCNUM = re.compile(
    r"([\u4e00-\u9fff]{1,14})\s*[〔\[［(（【﹝]\s*((?:19|20)\d{2})\s*[〕\]］)）】﹞]\s*(\d{1,4})\s*号"
)
_DATE = re.compile(r"((?:19|20)\d{2}|[一二〇零○Ｏ]{4})\s*年\s*(\d{1,2}|[一二三四五六七八九十]{1,2})\s*月\s*(\d{1,2}|[一二三四五六七八九十]{1,3})\s*日")
_DATE_LINE = re.compile(rf"^(?P<before>.*?)\s*{_DATE.pattern}\s*(印发|发布|发|起施行|施行)?$")
ORG_SUFFIX = re.compile(
    r"(办公厅|办公室|人民政府|政府|委员会|党委|县委|市委|省委|州委|区委|国务院|厅|局|部|委|署|院|办|中心|小组|指挥部|总局|银行|法院|检察院|联合会)$"
)
_SENTENCE_PUNCT = re.compile(r"[。；;！!？?：:，,]")


@dataclass(frozen=True)
class Heading:
    kind: str
    number: int
    label: str  # the heading as printed, up to its first 。/： when short


def cn_to_int(numeral: str) -> int:
    """Chinese or Arabic numeral -> int (一百二十三 -> 123); 0 if unreadable."""
    if numeral.isdigit():
        return int(numeral)
    units = {"十": 10, "百": 100, "千": 1000}
    total, current = 0, 0
    for ch in numeral:
        if ch in units:
            total += (current or 1) * units[ch]
            current = 0
        elif ch in _CN_VALUE:
            current = _CN_VALUE[ch]
        else:
            return 0
    return total + current


_CN_VALUE = {ch: i for i, ch in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}


def _digits(numeral: str) -> int:
    """Year-style numerals written digit by digit (二〇一六 -> 2016)."""
    if numeral.isdigit():
        return int(numeral)
    table = {"〇": "0", "零": "0", "○": "0", "Ｏ": "0", "一": "1", "二": "2", "三": "3", "四": "4",
             "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}
    return int("".join(table.get(ch, "0") for ch in numeral))


def heading_label(line: str, number_end: int, max_len: int = 40) -> str:
    """The heading as printed: up to the first 。/： if short, else the number only.

    A head with a comma is the article's first sentence, not a title
    ("（二）在缴费期内参保缴费的，自…起享受待遇。"): the number alone labels it.
    """
    rest = line[number_end:]
    stop = re.search(r"[。：:；;]", rest)
    head = rest[: stop.start()] if stop else rest
    label = line[:number_end] + head
    if len(label.strip()) <= max_len and head.strip() and not re.search(r"[，,]", head):
        return label.strip()
    return line[:number_end].strip()


def law_heading(line: str) -> Heading | None:
    """第X编/章/节/条 at the start of a line."""
    tiao = _TIAO.match(line)
    if tiao:
        rest = tiao.group("rest")
        if rest and _TIAO_XREF.match(rest):
            return None
        label = line[: tiao.end(1)] + "条"
        return Heading(TIAO, cn_to_int(tiao.group(1)), re.sub(r"\s+", "", label))
    head = _LAW_HEAD.match(line)
    if head:
        kind = {"编": BIAN, "章": ZHANG, "节": JIE}[head.group(2)]
        label = line.strip() if len(line.strip()) <= 40 else line[: head.end()].strip()
        return Heading(kind, cn_to_int(head.group(1)), label)
    return None


def policy_heading(line: str) -> Heading | None:
    """一、 section or （一） article at the start of a line."""
    match = _SECTION.match(line)
    if match:
        return Heading(SECTION, cn_to_int(match.group(1)), heading_label(line, match.end()))
    match = _ARTICLE.match(line)
    if match:
        return Heading(ARTICLE, cn_to_int(match.group(1)), heading_label(line, match.end()))
    return None


def arabic_section(line: str) -> tuple[int, str] | None:
    """A `2、 heading` line: a section heading mistyped with an Arabic numeral."""
    match = _ARABIC_SECTION.match(line)
    if not match:
        return None
    rest = line[match.end():]
    if not rest or len(rest) > 30 or _SENTENCE_PUNCT.search(rest):
        return None
    return int(match.group(1)), line.strip()


def is_tiao_line(line: str) -> bool:
    head = law_heading(line)
    return head is not None and head.kind == TIAO


def normalize_docnum(text: str) -> str | None:
    """First 发文字号 in text, brackets normalised: 国办发〔2018〕23号."""
    match = DOCNUM.search(text)
    if not match:
        return None
    # Running text glues words to the prefix ("以青府办发…"): organ
    # abbreviations never contain these function words, so cut after them.
    prefix = re.sub(r"^.*[以经据照于日和及与的即为将按由在对是]", "", match.group(1))
    return f"{prefix or match.group(1)}〔{match.group(2)}〕{match.group(3)}号"


def docnum_line(line: str) -> str | None:
    """The line is a 发文字号 and nothing else."""
    match = DOCNUM.fullmatch(line.strip())
    return normalize_docnum(line) if match else None


def date_line(line: str) -> tuple[str, str] | None:
    """A signature date line -> (text before the date, YYYY-MM-DD)."""
    match = _DATE_LINE.match(line.strip())
    if not match:
        return None
    before = match.group("before")
    if before and not _org_names(before):
        return None
    return before, _iso(match.group(2), match.group(3), match.group(4))


def find_docnums(text: str) -> list[str]:
    """Every 发文字号 in text, normalised, in order of appearance."""
    out: list[str] = []
    for match in DOCNUM.finditer(text):
        number = normalize_docnum(match.group(0))
        if number and number not in out:
            out.append(number)
    return out


def find_date(text: str) -> str | None:
    """First date written in full anywhere in text, as YYYY-MM-DD."""
    match = _DATE.search(text)
    if match:
        return _iso(match.group(1), match.group(2), match.group(3))
    match = re.search(r"((?:19|20)\d{2})[-/.](\d{1,2})[-/.](\d{1,2})", text)
    if match:
        return _iso(*match.groups())
    return None


def _iso(year: str, month: str, day: str) -> str:
    y = _digits(year)
    m = int(month) if month.isdigit() else cn_to_int(month)
    d = int(day) if day.isdigit() else cn_to_int(day)
    return f"{y:04d}-{m:02d}-{d:02d}"


def is_org_name(line: str) -> bool:
    """A short line naming an issuing organ (a signature line)."""
    text = line.strip()
    return 2 <= len(text) <= 30 and not _SENTENCE_PUNCT.search(text) and bool(ORG_SUFFIX.search(text))


def _org_names(text: str) -> list[str]:
    parts = [p for p in re.split(r"\s{2,}|\u3000+|、", text.strip()) if p]
    return parts if parts and all(is_org_name(p) for p in parts) else []


def org_names(text: str) -> list[str]:
    """Organ names in a signature line, split on wide spaces and 、."""
    return _org_names(text)


def is_title_like(line: str, max_len: int = 60) -> bool:
    """Short, no sentence punctuation, not a heading or date: can be (part of) a title."""
    text = line.strip()
    if not text or len(text) > max_len or _SENTENCE_PUNCT.search(text):
        return False
    if law_heading(text) or policy_heading(text) or date_line(text) or docnum_line(text):
        return False
    return True

