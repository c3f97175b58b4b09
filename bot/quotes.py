"""Checks that a rephrased answer says nothing the retrieved text does not.

An LLM may only reword the extractive answer. Words can change; facts cannot:
every quotation, number, date, amount, 发文字号 (doc number), 《title》, URL and
phone number in the rephrasing must already be in the evidence, and the
draft's source line (titles and departments) and its warnings that a document
is repealed, expired or amended must survive. The evidence is the
retrieved passages plus the extractive draft itself, because the draft is made
only of retrieved text and knowledge-base metadata (title, 文号, department)
that the passages need not repeat.

Texts are compared after NFKC normalisation with whitespace removed, so full-
and half-width forms and line breaks do not count as differences.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ingest.patterns import cn_to_int
from knowledge.tokenize import find_doc_numbers

__all__ = ["MAX_CHARS", "Rejection", "check_rephrasing", "normalize", "source_line"]

# The prompt asks for 400 characters; this leaves room for the source line.
MAX_CHARS = 700

_SPACE = re.compile(r"\s+")
# After NFKC: ＂ -> ", … -> ...; 「」『』“” are kept as they are.
_QUOTE = re.compile(r"「([^「」]+)」|『([^『』]+)』|“([^“”]+)”|\"([^\"]+)\"")
_ELLIPSIS = re.compile(r"\.{2,}|⋯+")
_EDGE_PUNCT = "。，、；：！？,.;:!?"
_TITLE = re.compile(r"《([^《》]+)》")
_URL = re.compile(r"(?:https?://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?:cn|com|net|org)\b[/A-Za-z0-9\-._~%?=&#]*", re.I)
_PHONE = re.compile(r"(?<!\d)(?:\+?86-?)?1[3-9]\d{9}(?!\d)|(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)|(?<!\d)123\d{2}(?!\d)")
_PHONE_SEPARATORS = re.compile(r"[-()+]")
_ZERO_PADDED_SEQ = re.compile(r"〕0+(?=\d)")

# A department in the source line is a segment ending like an organ's name.
_LINE_SEPARATORS = re.compile(r"[·・、,;:/|()\[\]【】〔〕—\s]+")
_ROLE_PREFIX = re.compile(r"^(?:第[0-9零〇一二三四五六七八九十百千]+[编章节条款项]|依据|根据|来源|出处|起草部门|起草单位|起草|解读部门|解读单位|解读机关|解读|答复部门|发布机关|发文机关|印发|牵头单位|责任单位)+")
_ROLE_NAMES = re.compile(r"(?:部门|单位|机关):([^;,。·|()]+)")
_ROLE_SUFFIX = re.compile(r"(?:起草|解读|发布|印发|制定)+$")
# A line saying a document is no longer (or not yet) in force; see _warnings_kept.
_STATUS_WORDS = re.compile(r"废止|失效|修订|尚未生效")
_ORGAN_SUFFIXES = ("政府", "办公厅", "办公室", "委员会", "委", "局", "厅", "署", "院", "中心", "部", "办", "所", "处", "室", "会", "队", "站", "行")


@dataclass(frozen=True)
class Rejection:
    """Why a rephrasing was refused.

    ``reason`` is a fixed English phrase, safe to log. ``span`` is the offending
    text, for tests and debugging only: it comes from the model's output, which
    may echo a citizen's phone or ID number, so it is never logged.
    """

    reason: str
    span: str = ""


def normalize(text: str) -> str:
    return _SPACE.sub("", unicodedata.normalize("NFKC", text))


def source_line(draft: str) -> str:
    """The draft's source line: the last "——依据…" line, else the last with a 《title》, else ""."""
    lines = [line.strip() for line in reversed(draft.splitlines())]
    # An interpretation passage may follow the source line and name titles too.
    for line in lines:
        if line.startswith("——"):
            return line
    return next((line for line in lines if _TITLE.search(line)), "")


def check_rephrasing(output: str, draft: str, sources: Sequence[str]) -> Rejection | None:
    """None when ``output`` only rewords ``draft`` and ``sources``, else why not."""
    text = normalize(output)
    evidence = [normalize(s) for s in (*sources, draft)]
    if len(output.strip()) > MAX_CHARS:
        return Rejection("longer than the limit", str(len(output.strip())))
    for check in (_source_line_kept, _warnings_kept, _doc_numbers_known, _titles_known, _quotes_known, _urls_known, _phones_known):
        rejection = check(text, draft, evidence)
        if rejection is not None:
            return rejection
    return _numbers_known(text, evidence) or _numbers_stay_put(text, evidence)


def _source_line_kept(text: str, draft: str, evidence: list[str]) -> Rejection | None:
    # Whitespace still separates segments here, so only NFKC for now.
    line = unicodedata.normalize("NFKC", source_line(draft))
    for title in _TITLE.findall(line):
        if f"《{normalize(title)}》" not in text:
            return Rejection("source title dropped", title)
    for department in _departments(line):
        if department not in text:
            return Rejection("source department dropped", department)
    # The prompt asks for it unchanged: a 文号 or article swapped inside it would credit
    # the text to another document (a repealed notice's words to its successor).
    if normalize(line) not in text:
        return Rejection("source line changed", line)
    return None


def _departments(line: str) -> list[str]:
    # Titles and 文号 can end in organ-like characters (…办法, …号); drop them first.
    rest = _TITLE.sub(" ", unicodedata.normalize("NFKC", line))
    # With role labels (起草部门：…) only what they name counts, so an article
    # label such as "（一）成立工作专班办公室" is not taken for a department.
    labelled = [m.group(1) for m in _ROLE_NAMES.finditer(rest)]
    segments = [p for names in labelled for p in names.split("、")] if labelled else _LINE_SEPARATORS.split(rest)
    found: list[str] = []
    for segment in segments:
        name = normalize(_ROLE_SUFFIX.sub("", _ROLE_PREFIX.sub("", segment.strip())))
        if len(name) >= 3 and name.endswith(_ORGAN_SUFFIXES) and name not in found:
            found.append(name)
    return found


def _warnings_kept(text: str, draft: str, evidence: list[str]) -> Rejection | None:
    # Quoting a repealed policy as current is the worst failure a government bot
    # can have, so a rewording must keep every status word and the document it
    # is about. A body sentence mentioning 废止 is held to this too: stricter
    # than needed, and the price of a refusal is only the extractive draft.
    for line in draft.splitlines():
        line = normalize(line)
        words = _STATUS_WORDS.findall(line)
        if not words:
            continue
        for needed in (*words, *(f"《{t}》" for t in _TITLE.findall(line))):
            if needed not in text:
                return Rejection("status warning dropped", needed)
    return None


def _doc_numbers_known(text: str, draft: str, evidence: list[str]) -> Rejection | None:
    known = {n for e in evidence for n in find_doc_numbers(e)}
    for number in find_doc_numbers(text):
        canonical = _ZERO_PADDED_SEQ.sub("〕", number)
        # endswith: a verb the issuer pattern swallowed ("依国办发…") is not a new number.
        if not any(form.endswith(k) for k in known for form in (number, canonical)):
            return Rejection("unknown doc number", number)
    return None


def _titles_known(text: str, draft: str, evidence: list[str]) -> Rejection | None:
    for title in _TITLE.findall(text):
        if not _in_any(title, evidence):
            return Rejection("unknown title", title)
    return None


def _quotes_known(text: str, draft: str, evidence: list[str]) -> Rejection | None:
    for match in _QUOTE.finditer(text):
        quoted = next(g for g in match.groups() if g is not None)
        # A quotation with an ellipsis omits words; each kept piece must be verbatim.
        for piece in _ELLIPSIS.split(quoted):
            piece = piece.strip(_EDGE_PUNCT)
            if piece and not _in_any(piece, evidence):
                return Rejection("quotation not in the sources", quoted)
    return None


def _urls_known(text: str, draft: str, evidence: list[str]) -> Rejection | None:
    lowered = [e.lower() for e in evidence]
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?)'").lower()
        if not _in_any(url, lowered):
            return Rejection("unknown URL", url)
    return None


def _phones_known(text: str, draft: str, evidence: list[str]) -> Rejection | None:
    bare = [_PHONE_SEPARATORS.sub("", e) for e in evidence]
    for match in _PHONE.finditer(text):
        phone = _PHONE_SEPARATORS.sub("", match.group(0))
        if not _in_any(phone, bare):
            return Rejection("unknown phone number", match.group(0))
    return None


def _numbers_known(text: str, evidence: list[str]) -> Rejection | None:
    known_dates = {k for e in evidence for k in date_keys(e, partial=True)}
    for key, span in date_keys(text, partial=False).items():
        if key not in known_dates:
            return Rejection("unknown date", span)
    known = {k for e in evidence for k in number_keys(e)}
    known_values = {value for value, _unit in known}
    for (value, unit), span in number_keys(text).items():
        # A bare number ("23", "12345") only has to occur; one with a unit must
        # occur with that unit, so 30日 cannot become 30个工作日.
        if (unit and (value, unit) not in known) or (not unit and value not in known_values):
            return Rejection("unknown number", span)
    return None


_CLAUSE_END = re.compile(r"[,，。；;！？!?:：\n]")
_NOT_CJK = re.compile(r"[^\u4e00-\u9fff]")


def _bigrams(clause: str) -> set[str]:
    cjk = _NOT_CJK.sub("|", clause)
    return {cjk[i:i + 2] for i in range(len(cjk) - 1) if "|" not in cjk[i:i + 2]}


def _numbers_stay_put(text: str, evidence: list[str]) -> Rejection | None:
    """A number must stay with what it counts: a clause worded like one source clause
    may not carry a value that clause does not give for the same unit ("个人缴费每人每年670元"
    when 670元 is the government's share and the individual's is 400元)."""
    clauses = [(c, _bigrams(c), set(number_keys(c))) for e in evidence for c in _CLAUSE_END.split(e) if c]
    for clause in _CLAUSE_END.split(text):
        keys = {key: span for key, span in number_keys(clause).items() if key[1]}
        grams = _bigrams(clause)
        if not keys or len(grams) < 4 or not clauses:
            continue
        shared = max(len(grams & c[1]) for c in clauses)
        if shared < 3 or shared < 0.4 * len(grams):
            continue  # reworded beyond matching any one clause: nothing to compare with
        closest = [c for c in clauses if len(grams & c[1]) == shared]
        for key, span in keys.items():
            if any(key in c[2] for c in closest):
                continue
            if any(unit == key[1] for c in closest for _value, unit in c[2]):
                return Rejection("number moved to another clause", span)
    return None


def _in_any(needle: str, haystacks: Iterable[str]) -> bool:
    return any(needle in h for h in haystacks)


# --- numbers, dates, amounts -------------------------------------------------
# Each number becomes a key (value, unit) with Chinese numerals converted and
# units folded (天 = 日, 5万元 = 50000元), so a faithful rewording may switch
# between 三十日 and 30日 but not change the value or the kind of quantity.

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
              "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN = "零〇一二三四五六七八九十百千万亿两"
# Chinese numerals only count before a unit: alone they are words (统一, 一律, 万一).
_CN_UNITS = "个工作日|工作日|个小时|小时|分钟|个月|月|周岁|岁|天|日|年|个星期|星期|周|万元|亿元|千元|元|倍|个百分点|%"
_ARABIC_UNITS = _CN_UNITS + "|人次|人|户|家|项|件|名|个|平方米|平方公里|公里|公斤|千克|吨"
_UNIT_ALIASES = {"天": "日", "个工作日": "工作日", "个小时": "小时", "周岁": "岁",
                 "个星期": "周", "星期": "周", "千克": "公斤"}
_AMOUNT_SCALE = {"千元": 1000, "万元": 10_000, "亿元": 100_000_000}
_NUMBER = re.compile(
    rf"百分之(?P<pct>\d+(?:\.\d+)?|[{_CN}]+)"
    rf"|第(?P<ord>\d+|[{_CN}]+)(?P<okind>条|款|项|章|节|编|批)"
    rf"|(?P<arabic>\d+(?:,\d{{3}}(?!\d))*(?:\.\d+)?)(?P<aunit>{_ARABIC_UNITS})?"
    rf"|(?P<cn>[{_CN}]+)(?P<cunit>{_CN_UNITS})"
)
_YEAR = r"\d{4}|[〇零一二三四五六七八九]{4}"
_MONTH = r"\d{1,2}|十[一二]?|[一二三四五六七八九]"
_DAY = r"\d{1,2}|[一二三]?十[一二三四五六七八九]?|[一二三四五六七八九]"
_DATE = re.compile(
    rf"(?<!\d)(?P<y>{_YEAR})年(?P<m>{_MONTH})月(?:(?P<d>{_DAY})[日号])?"
    rf"|(?<!\d)(?P<m2>{_MONTH})月(?P<d2>{_DAY})[日号]"
)

DateKey = tuple[str, str, str]
NumberKey = tuple[str, str]


def date_keys(text: str, *, partial: bool) -> dict[DateKey, str]:
    """Dates with at least two of year/month/day, as (y, m, d) with "" for a missing part.

    With ``partial`` each date also yields its year-month and month-day, so the
    evidence's 2018年6月1日 supports an output's 2018年6月 or 6月1日.
    """
    keys: dict[DateKey, str] = {}
    for m in _DATE.finditer(text):
        year, month, day = (_value(g) if g else "" for g in (m["y"], m["m"] or m["m2"], m["d"] or m["d2"]))
        keys[(year, month, day)] = m.group(0)
        if partial and year and day:
            keys[(year, month, "")] = m.group(0)
            keys[("", month, day)] = m.group(0)
    return keys


def number_keys(text: str) -> dict[NumberKey, str]:
    """Every number in ``text`` as (value, unit); unit is "" for a bare Arabic number."""
    keys: dict[NumberKey, str] = {}
    for m in _NUMBER.finditer(text):
        if m["pct"]:
            raw, unit = m["pct"], "%"
        elif m["ord"]:
            raw, unit = m["ord"], f"第{m['okind']}"
        elif m["arabic"]:
            raw, unit = m["arabic"].replace(",", ""), m["aunit"] or ""
        else:
            raw, unit = m["cn"], m["cunit"]
        value = _value(raw, _AMOUNT_SCALE.get(unit, 1))
        if value:
            unit = "元" if unit in _AMOUNT_SCALE else _UNIT_ALIASES.get(unit, unit)
            keys.setdefault((value, unit), m.group(0))
    return keys


def _value(raw: str, scale: int = 1) -> str:
    """A canonical decimal string ("30", "1.5"), or "" when ``raw`` is no number."""
    number = _cn_value(raw) if raw[0] in _CN else _decimal(raw)
    if number is None:
        return ""
    return format((number * scale).normalize(), "f")


def _decimal(raw: str) -> Decimal | None:
    try:
        return Decimal(raw)
    except InvalidOperation:
        return None


def _cn_value(numeral: str) -> Decimal:
    if all(ch in _CN_DIGITS for ch in numeral) and len(numeral) > 1:
        # 二〇一八: digits read one by one, as years are written.
        return Decimal("".join(str(_CN_DIGITS[ch]) for ch in numeral))
    # cn_to_int reads up to 千; amounts (五万元, 一亿二千万) need 万 and 亿 on top.
    total, rest = 0, numeral
    for mark, scale in (("亿", 100_000_000), ("万", 10_000)):
        if mark in rest:
            head, rest = rest.split(mark, 1)
            total += (cn_to_int(head) if head else 1) * scale
    return Decimal(total + (cn_to_int(rest) if rest else 0))
