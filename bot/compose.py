"""Extractive answers: the sentences that answer, then where they come from.

A citizen reads this on a phone: the key fact first (a deadline, an amount, a
department), the governing sentences quoted as written, then one source line
naming the document, its 文号, the article and the department that drafted or
interprets it. Nothing here writes policy; every sentence is the passage's own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.text import has_fact_for, normalize, sentences
from knowledge.retriever import Hit
from knowledge.synonyms import SYNONYMS

_ANSWER_MARK = re.compile(r"^(?:答|问)[:：]\s*")
_NUMBERING = re.compile(r"^[（(]?[一二三四五六七八九十百零〇\d]+[)）、.．]?")
# A sign-off (落款): an issuing body followed by the date, as at a document's end
# ("…工作领导小组 2020年2月9日", "…劳动鉴定中心 二〇二〇年二月十一日"). It names the
# document, which the source line does; it never answers.
_SIGN_OFF = re.compile(r"(?:领导小组|人民政府|政府|办公室|办公厅|指挥部|委员会|中心|局|厅|委|部|院)\s+"
                       r"(?:\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|[〇○零一二三四五六七八九十]{4}年[一二三四五六七八九十]{1,3}月"
                       r"[一二三四五六七八九十]{1,3}日)")
# The article's note of who carries it out, "(牵头单位:…;责任单位:…)", not a sentence
# that merely speaks of 责任单位 ("对…处置不得力的涉事责任单位…予以约谈").
_UNITS_NOTE = re.compile(r"(?:牵头单位|责任单位)[:：]")
_UNITS_PAREN = re.compile(r"[（(]\s*(?:牵头单位|责任单位)\s*[:：][^（）()]*[）)]")
# A heading longer than a title is a rule of its own ("（二）受理举报的部门应对举报人信息严格保密").
TITLE_CHARS = 15
AIM_CHARS = 400  # API.md: aim under 400 characters, never over 700
MAX_CHARS = 700
QUOTE_CHARS = 220  # the quoted sentences; the rest is lead, source and interpretation


@dataclass
class Units:
    lead: list[str]
    responsible: list[str]

    def __bool__(self) -> bool:
        return bool(self.lead or self.responsible)

    def sentence(self) -> str:
        parts = []
        if self.lead:
            parts.append(f"牵头单位：{'、'.join(self.lead)}")
        if self.responsible:
            parts.append(f"责任单位：{'、'.join(self.responsible)}")
        return "；".join(parts) + "。"


def pick_sentences(
    text: str, words: list[str], wanted: set[str], idf: Callable[[str], float], label: str | None = None,
    limit: int = QUOTE_CHARS, title: str | None = None,
) -> str:
    """The passage's sentences that best answer, in their order, within ``limit`` characters.

    A sentence opening with the document's ``title`` (a news page's headline
    run into its first sentence) is read without it: the source line names
    the document, and the title's words say nothing about which sentence answers.
    """
    # The units note is given on its own when asked for; split at its "；" it would
    # leave a dangling "（牵头单位：市人社局；" in the quote.
    text = _UNITS_PAREN.sub("", text)
    candidates = [_without_prefix(_ANSWER_MARK.sub("", s), title) for s in sentences(text)]
    candidates = [s for s in candidates if s]
    if not candidates:
        return ""
    heading = normalize(label or "")

    def score(sentence: str) -> float:
        flat = normalize(sentence)
        value = sum(idf(w) for w in words
                    if normalize(w) in flat or any(normalize(t) in flat for t in SYNONYMS.get(w, ())))
        if has_fact_for(sentence, wanted):
            value += 2.0
        if heading and flat.rstrip("。") == heading.rstrip("。") and len(_NUMBERING.sub("", heading)) <= TITLE_CHARS:
            value *= 0.3  # the article's own short heading (主动回应关切) says little on its own
        if _UNITS_NOTE.search(flat):
            value *= 0.5  # the units line; they are given separately when asked for
        if _SIGN_OFF.search(sentence):
            value *= 0.1
        if sentence.rstrip().endswith(("？", "?")):
            value *= 0.1  # an interpretation's 问：… line asks, it does not answer
        return value

    scored = [(score(s), i) for i, s in enumerate(candidates)]
    best_score, best = max(scored, key=lambda item: (item[0], -item[1]))
    chosen = {best}
    length = len(candidates[best])
    # A short best sentence rarely stands alone, and the one after it goes on
    # when it states the kind of fact asked for ("…给予补贴。补贴期限最长不超过3年"):
    # that sentence first, then the next-best ones that also answer, while room is left.
    after = best + 1
    # A best sentence that only restates the question (news leads: "…实行更优惠的
    # 进口税收政策") or opens a list ("通知要求：") is answered by what follows.
    restates = best_score >= 0.8 * sum(idf(w) for w in words) > 0 or candidates[best].rstrip().endswith(("：", ":"))
    if after < len(candidates) and (length < 40 or restates or has_fact_for(candidates[after], wanted)) \
            and length + len(candidates[after]) <= limit:
        chosen.add(after)
        length += len(candidates[after])
    for value, index in sorted(scored, key=lambda item: (-item[0], item[1])):
        if length >= limit * 0.6:
            break
        if index in chosen or length + len(candidates[index]) > limit:
            continue
        if value >= 0.6 * best_score > 0:
            chosen.add(index)
            length += len(candidates[index])
    quoted = "".join(candidates[i] for i in sorted(chosen))
    return quoted if len(quoted) <= limit else _cut(quoted, limit)


def _cut(text: str, limit: int) -> str:
    """The text cut to ``limit`` at the last clause end before it, never inside a number or date."""
    room = text[: limit - 1]
    end = max(room.rfind(mark) for mark in "，、；：,;")
    if end >= limit // 2:
        return room[: end] + "…"
    while room and (room[-1].isdigit() or room[-1] in "年月日号.％%"):
        room = room[:-1]  # "截至2025年12月3…" would misstate the date
    return room + "…"


def _without_prefix(sentence: str, title: str | None) -> str:
    """The sentence without a leading copy of the title (spaces may differ); as it was otherwise."""
    wanted = normalize(title or "")
    if len(wanted) < 6 or not normalize(sentence).startswith(wanted):
        return sentence
    matched = 0
    for position, char in enumerate(sentence):
        if normalize(char):
            matched += len(normalize(char))
        if matched >= len(wanted):
            return sentence[position + 1:].strip()
    return sentence


def source_line(hit: Hit, faq_department: str | None = None) -> str:
    """——依据《title》（文号）article label；起草部门 / 解读部门."""
    doc = hit.document
    cite = f"《{doc.title}》"
    if doc.doc_number:
        cite += f"（{doc.doc_number}）"
    if hit.article and hit.article.get("label"):
        cite += _article_name(hit.article)
    who = []
    if hit.interpretation:
        # 谁起草、谁解读: the interpretation speaks for the policy it explains.
        title = hit.interpretation.title
        cite = title if "《" in title else f"《{title}》"
        who.append(f"解读部门：{hit.interpretation.department}")
        who.append(f"所解读文件：{doc.doc_number or '《' + doc.title + '》'}")
    elif hit.kind == "faq":
        who.append(f"答复部门：{faq_department or doc.drafting_department or '未注明'}")
    elif doc.drafting_department:
        who.append(f"起草部门：{doc.drafting_department}")
    return "——依据" + cite + ("；" + "；".join(who) if who else "") + "。"


_BARE_NUMBER = re.compile(r"^[（(]?[一二三四五六七八九十百零〇\d]+[)）、.．]?$")


def _article_name(article: dict) -> str:
    """The article label, with its section when the label is a bare number: a notice
    numbers （一） afresh in every section, so "（一）" alone does not say which."""
    label = article["label"]
    path = article.get("path") or []
    if _BARE_NUMBER.match(label.strip()) and len(path) >= 2 and path[-1] == label:
        return f"{path[-2].strip()}{label}"
    return label


def compose(
    lead: str, quoted: str, source: str, interpretation: str | None = None, warnings: list[str] | None = None,
) -> str:
    """The answer text, within API.md's length limits, the source line always whole."""
    parts = list(warnings or [])
    body = (lead + quoted) if lead and not normalize(quoted).startswith(normalize(lead)) else quoted or lead
    parts.append(body)
    parts.append(source)
    if interpretation:
        parts.append(interpretation)
    text = "\n".join(p for p in parts if p)
    if len(text) > MAX_CHARS and interpretation:
        parts.pop()  # the governing sentences matter more than the interpretation beside them
        text = "\n".join(p for p in parts if p)
    if len(text) > MAX_CHARS:
        room = MAX_CHARS - len(text) + len(body) - 1
        parts[len(warnings or [])] = body[: max(room, 0)] + "…"
        text = "\n".join(p for p in parts if p)[:MAX_CHARS]
    return text
