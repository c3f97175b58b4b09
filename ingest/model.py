"""Plain data objects that ingest/ produces and knowledge/ stores.

Nothing here knows about SQLite, FAISS or HTTP: a parser returns these, the
knowledge base persists them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Article:
    """One citable unit of a policy: an article, or an unnumbered passage.

    ``label`` is the unit's own heading as printed (``（十）加强政策解读``,
    ``第五十四条``); it is empty for text that has no heading of its own (an
    opening paragraph, a closing instruction, a notice without numbering).
    ``path`` lists the headings from the top of the document down to and
    including ``label``.
    """

    label: str
    path: list[str]
    text: str
    lead_units: list[str] = field(default_factory=list)  # 牵头单位
    responsible_units: list[str] = field(default_factory=list)  # 责任单位

    @property
    def units(self) -> list[str]:
        """Every unit named as carrying the article out, leads first."""
        seen = dict.fromkeys(self.lead_units + self.responsible_units)
        return list(seen)


@dataclass
class ParsedDocument:
    """A policy document as parsed from one file (or printed inside another).

    A forwarding notice (转发…的通知) keeps every document it prints as a child,
    each with its own doc_number, issuers and date; passages belong to the
    innermost document that holds them.
    """

    title: str
    doc_number: str | None = None  # 发文字号, e.g. 国办发〔2018〕23号
    issuers: list[str] = field(default_factory=list)  # 发文机关, in printed order
    publish_date: str | None = None  # YYYY-MM-DD (成文/印发日期)
    recipients: str | None = None  # 主送机关: the distribution line, never an article
    articles: list[Article] = field(default_factory=list)
    children: list[ParsedDocument] = field(default_factory=list)
    source_name: str | None = None  # file name it came from, for messages

    def walk(self) -> list[ParsedDocument]:
        """This document and every document printed inside it, outermost first."""
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out


@dataclass
class InterpretationSection:
    """One part of an interpretation: a 问/答 pair, or a paragraph."""

    answer: str
    question: str | None = None

    @property
    def text(self) -> str:
        if self.question:
            return f"问：{self.question}\n答：{self.answer}"
        return self.answer


@dataclass
class ParsedInterpretation:
    """An official interpretation (政策解读) of one policy."""

    title: str
    department: str | None = None  # 解读部门
    publish_date: str | None = None
    sections: list[InterpretationSection] = field(default_factory=list)
    # How the text names the policy it interprets; resolved by knowledge/.
    policy_doc_number: str | None = None
    policy_title: str | None = None
    source_name: str | None = None


@dataclass
class Chunk:
    """A passage to index: small enough to read on a phone, with its header.

    ``header`` (document title > path) is embedded and searched together with
    ``text`` but ``text`` is what a citation quotes.
    """

    text: str
    header: str
    part: int = 0  # index of the piece when a long article is split
