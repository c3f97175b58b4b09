"""Chinese tokenizer for BM25: jieba plus the patterns jieba breaks apart.

发文字号 (doc_number, e.g. 国办发〔2018〕23号) and article references (第十条)
must be findable as wholes, so they are cut out before jieba sees the text.
Numbers keep their unit (24小时, 30个工作日) and the unit is also emitted alone,
so "几个工作日" still meets "30个工作日".
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
import unicodedata
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import jieba

logger = logging.getLogger(__name__)

__all__ = ["TOKENIZER_VERSION", "STOPWORDS", "find_doc_numbers", "in_dictionary", "normalize_doc_number", "tokenize",
           "warm_up"]

# Stored chunk tokens carry this version; a change re-tokenises them on open.
# It names the user dictionary's content too: a new policy term there changes
# how passages are cut, so what is stored must be cut again.
_USERDICT_DIGEST = hashlib.sha256(resources.files("knowledge").joinpath("userdict.txt").read_bytes()).hexdigest()
TOKENIZER_VERSION = f"2-bigrams-{_USERDICT_DIGEST[:12]}"

# Function words and question fillers only: BM25's idf already discounts
# frequent content words, and dropping one wrongly loses recall for good.
STOPWORDS: frozenset[str] = frozenset(
    """的 地 得 之 了 着 过 和 与 及 以及 或 或者 并 而 是 在 等 要 对 把 被 于 其 以 为 也 都
    就 将 从 向 这 那 这个 那个 该 此 吗 呢 吧 啊 呀 嘛 哦 么 请问 什么 怎么 怎样 如何 哪些
    哪个 哪里 我 我们 你 您 他 她 它 他们 关于""".split()
)

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
              "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_NUM = "零〇一二三四五六七八九十百千两"

# After NFKC the full-width （）［］ are ASCII; 〔〕 and 【】 survive NFKC.
_OPEN = r"[〔\[(【]"
_CLOSE = r"[〕\])】]"
# Issuer abbreviations are short (国办发, 人社部发, 国卫办医发); the bound keeps a
# preceding verb out most of the time, _ISSUER_LEAD strips the rest.
_DOC_NUMBER = rf"(?P<issuer>[\u4e00-\u9fff]{{1,8}})\s*{_OPEN}\s*(?P<year>(?:19|20)\d\d)\s*{_CLOSE}\s*(?P<seq>\d{{1,5}})\s*号"
_DECREE = r"(?P<decree>[\u4e00-\u9fff]{1,8}令)\s*第\s*(?P<dnum>\d{1,5}|[" + _CN_NUM + r"]{1,8})\s*号"
_ARTICLE = r"第\s*(?P<anum>\d{1,4}|[" + _CN_NUM + r"]{1,8})\s*(?P<akind>条|章|节|款|项)"
_UNITS = (
    "个工作日|工作日|个小时|小时|分钟|个月|周岁|天|日|月|年|周|岁|万元|亿元|千元|元|"
    "平方米|平方公里|公里|公斤|千克|吨|人次|倍|%"
)
_NUM_UNIT = rf"(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>{_UNITS})"
_SPECIAL = re.compile("|".join((_DOC_NUMBER, _DECREE, _ARTICLE, _NUM_UNIT)))
# Words that end the sentence before an issuer ("根据国办发…", "文件和粤府办…");
# none of them occurs inside a real issuer abbreviation.
_ISSUER_LEAD = re.compile(
    r"根据|依据|依照|按照|参照|遵照|贯彻|落实|转发|印发|执行|文件|附件|见|即|和|及|与|或|并|以|经|按|据|的|是|为|由|将|对|附|了|在|于|自|向|从"
)
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")

_state_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None


def _private_cache_dir() -> str:
    # jieba caches its prefix dictionary with marshal; loading that from the
    # shared /tmp would trust a file any local user can plant.
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "policybot" / "jieba"
    try:
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
        if base.stat().st_uid == os.getuid():
            return str(base)
    except OSError:
        pass
    return tempfile.mkdtemp(prefix="policybot-jieba-")


def _route_jieba_logging() -> None:
    # jieba installs its own stderr handler at DEBUG; hand its records to the
    # application's logging configuration instead.
    jieba_logger = logging.getLogger("jieba")
    for handler in list(jieba_logger.handlers):
        jieba_logger.removeHandler(handler)
    jieba_logger.setLevel(max(logger.getEffectiveLevel(), logging.INFO))


def _get_tokenizer() -> jieba.Tokenizer:
    global _tokenizer
    if _tokenizer is not None:
        return _tokenizer
    with _state_lock:
        if _tokenizer is None:
            _route_jieba_logging()
            tok = jieba.Tokenizer()
            tok.tmp_dir = _private_cache_dir()
            tok.initialize()
            userdict = resources.files("knowledge").joinpath("userdict.txt")
            # A path makes jieba leave the file open; hand it an open file.
            with userdict.open("rb") as f:
                tok.load_userdict(f)
            _tokenizer = tok
            logger.info("jieba dictionary loaded (user dictionary %s)", userdict)
    return _tokenizer


def in_dictionary(word: str) -> bool:
    """Whether jieba's dictionary (with ours) knows the word, as opposed to
    a run its HMM glued together (开了个, 最多能)."""
    return bool(_get_tokenizer().FREQ.get(word))


def get_tokenizer() -> jieba.Tokenizer:
    """The shared jieba tokenizer with our user dictionary (for POS tagging and the like)."""
    return _get_tokenizer()


def warm_up() -> None:
    """Load jieba's dictionary now (about 1-2 s) instead of on the first query."""
    _get_tokenizer()


def _cn_to_int(numeral: str) -> int | None:
    if numeral.isdigit():
        return int(numeral)
    total, digit = 0, None
    for ch in numeral:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            total += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
        else:
            return None
    return total + (digit or 0)


def _strip_lead(issuer: str) -> str:
    cut = 0
    for lead in _ISSUER_LEAD.finditer(issuer):
        cut = lead.end()
    return issuer[cut:] or issuer


def normalize_doc_number(issuer: str, year: str, seq: str) -> str:
    """Canonical 发文字号: 〔〕 brackets, no spaces, no leading zeros."""
    return f"{issuer}〔{year}〕{int(seq)}号"


_DOC_NUMBER_RE = re.compile(_DOC_NUMBER)


def find_doc_numbers(text: str) -> list[str]:
    """发文字号 named in ``text``, canonical form (as in ``tokenize``), in order.

    A number written with leading zeros (〔2020〕05号) is also returned as
    written, so an exact lookup meets whichever form ingest stored.
    """
    text = unicodedata.normalize("NFKC", text)
    found: dict[str, None] = {}
    for m in _DOC_NUMBER_RE.finditer(text):
        issuer = _strip_lead(m.group("issuer"))
        found[normalize_doc_number(issuer, m.group("year"), m.group("seq"))] = None
        found[f"{issuer}〔{m.group('year')}〕{m.group('seq')}号"] = None
    return list(found)


def _special_tokens(m: re.Match[str]) -> list[str]:
    if m.group("issuer"):
        issuer = _strip_lead(m.group("issuer"))
        return [normalize_doc_number(issuer, m.group("year"), m.group("seq"))]
    if m.group("decree"):
        decree = _strip_lead(m.group("decree"))
        number = _cn_to_int(m.group("dnum"))
        return [f"{decree}第{number if number is not None else m.group('dnum')}号"]
    if m.group("anum"):
        number = _cn_to_int(m.group("anum"))
        # One form for 第十条 and 第10条 so citizens' digits meet the law's numerals.
        return [f"第{number if number is not None else m.group('anum')}{m.group('akind')}"]
    unit = m.group("unit")
    # The bare unit lets "几个工作日" meet "30个工作日"; 个 is only a measure word.
    return [f"{m.group('num')}{unit}", unit.removeprefix("个")]


def _is_noise(token: str) -> bool:
    return all(unicodedata.category(ch)[0] in "PSZC" for ch in token)


def _segments(text: str) -> Iterator[tuple[bool, str | list[str]]]:
    """Yield (is_special, plain text | special tokens) in reading order."""
    pos = 0
    for m in _SPECIAL.finditer(text):
        if m.start() > pos:
            yield False, text[pos : m.start()]
        yield True, _special_tokens(m)
        pos = m.end()
    if pos < len(text):
        yield False, text[pos:]


def tokenize(text: str, *, bigrams: bool = True, search_mode: bool = False) -> list[str]:
    """Tokens for BM25, for documents and queries alike.

    ``bigrams`` adds overlapping character bigrams of every CJK run (recall for
    words jieba cuts differently in query and passage); ``search_mode`` uses
    jieba's search segmentation, which also emits the words inside long words.
    """
    tok = _get_tokenizer()
    text = unicodedata.normalize("NFKC", text).lower()
    out: list[str] = []
    for is_special, part in _segments(text):
        if is_special:
            assert isinstance(part, list)
            out.extend(part)
            continue
        assert isinstance(part, str)
        words = tok.cut_for_search(part) if search_mode else tok.cut(part)
        for word in words:
            word = word.strip()
            if word and word not in STOPWORDS and not _is_noise(word):
                out.append(word)
        if bigrams:
            for run in _CJK_RUN.findall(part):
                pairs = (run[i : i + 2] for i in range(len(run) - 1))
                out.extend(pair for pair in pairs if pair not in STOPWORDS)
    return out
