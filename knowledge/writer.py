"""Turn parsed documents and interpretations into rows, inside one transaction.

Chunking and tokenising happen here, before the transaction commits, so the
lexical index can serve a new document the moment it is stored.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from ingest.chunking import chunk_interpretation, chunks_for_document, split_text
from ingest.structure import PARSER_VERSION
from ingest.model import Article, Chunk, InterpretationSection, ParsedDocument, ParsedInterpretation
from knowledge.db import Connection
from knowledge.records import STATUSES, passage_text
from knowledge.store import now
from knowledge.tokenize import tokenize


def new_id() -> str:
    return uuid.uuid4().hex[:16]


@dataclass
class DocumentMeta:
    """What the uploader says about a document, overriding what was parsed."""

    title: str | None = None
    doc_number: str | None = None
    issuer: str | None = None
    drafting_department: str | None = None
    publish_date: str | None = None
    effective_date: str | None = None
    expiry_date: str | None = None
    status: str | None = None  # None: "current" for a new document, unchanged for a new version
    url: str | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise ValueError(f"status 只能是 {' / '.join(STATUSES)}（收到 {self.status!r}）")
        for name in ("publish_date", "effective_date", "expiry_date"):
            value = getattr(self, name)
            if value is not None and not is_iso_date(value):
                raise ValueError(f"{name} 须为 YYYY-MM-DD 格式的日期（收到 {str(value)[:20]!r}）")
        if self.effective_date and self.expiry_date and self.expiry_date < self.effective_date:
            raise ValueError(f"expiry_date（{self.expiry_date}）早于 effective_date（{self.effective_date}）")


def is_iso_date(value: object) -> bool:
    """A real calendar date written YYYY-MM-DD."""
    try:
        return date.fromisoformat(str(value)).isoformat() == value
    except ValueError:
        return False


@dataclass
class StoredChunk:
    id: int
    tokens: list[str]
    embed_text: str
    is_window: bool = False


@dataclass
class WriteResult:
    document_ids: list[str] = field(default_factory=list)
    chunks: list[StoredChunk] = field(default_factory=list)
    articles: int = 0

    @property
    def passages(self) -> int:
        return sum(not c.is_window for c in self.chunks)


# A question usually targets one or two sentences; in a long passage they are
# diluted, so passages longer than WINDOW_CHARS are also searched as windows of
# that size (overlapping by WINDOW_OVERLAP), each credited to its passage.
WINDOW_CHARS = 200
WINDOW_OVERLAP = 60
# Stored chunks carry this version; a change re-chunks them from the stored articles.
CHUNKER_VERSION = "2-windows-200"


def _insert_chunk(
    conn: Connection, result: WriteResult, document_id: str, kind: str, chunk: Chunk,
    article_id: int | None = None, interpretation_id: str | None = None, faq_id: int | None = None,
) -> None:
    def insert(text: str, part: int, parent: int | None) -> int:
        tokens = tokenize(passage_text(chunk.header, text))
        cur = conn.execute(
            "INSERT INTO chunks(document_id, article_id, interpretation_id, faq_id, kind, part, header, text, "
            "tokens, parent_chunk_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (document_id, article_id, interpretation_id, faq_id, kind, part, chunk.header, text,
             " ".join(tokens), parent),
        )
        chunk_id = int(cur.fetchone()[0])
        result.chunks.append(StoredChunk(chunk_id, tokens, passage_text(chunk.header, text), parent is not None))
        return chunk_id

    parent = insert(chunk.text, chunk.part, None)
    if len(chunk.text) > WINDOW_CHARS + WINDOW_OVERLAP:
        for part, window in enumerate(split_text(chunk.text, WINDOW_CHARS, WINDOW_OVERLAP)):
            insert(window, part, parent)


def write_document(
    conn: Connection,
    parsed: ParsedDocument,
    meta: DocumentMeta,
    owner_department_id: int | None,
    owner_department_name: str | None,
    source_hash: str | None,
    top_id: str | None = None,
) -> WriteResult:
    """Store a document tree: the document, every document it prints, their articles and chunks."""
    result = WriteResult()
    stamp = now()
    inherited: dict[str, str | None] = {"status": "current", "expiry_date": None}

    def store(doc: ParsedDocument, parent_id: str | None, is_top: bool) -> None:
        doc_id = (top_id if is_top and top_id else None) or new_id()
        issuers = list(doc.issuers)
        if is_top and meta.issuer:
            issuers = [meta.issuer]
        drafting = (meta.drafting_department if is_top else None) or (issuers[0] if issuers else None)
        drafting = drafting or owner_department_name
        title = (meta.title if is_top and meta.title else doc.title) or (doc.source_name or "未命名文件")
        conn.execute(
            "INSERT INTO documents(id, parent_id, title, doc_number, issuers, drafting_department, "
            "owner_department_id, publish_date, effective_date, expiry_date, status, url, recipients, "
            "source_name, source_hash, parser, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            # A new version keeps its row (and so its interpretations) and its created_at.
            "ON CONFLICT(id) DO UPDATE SET parent_id = excluded.parent_id, title = excluded.title, "
            "doc_number = excluded.doc_number, issuers = excluded.issuers, "
            "drafting_department = excluded.drafting_department, publish_date = excluded.publish_date, "
            # A new version of the file does not undo the document's lifecycle (a repeal, a
            # validity period, a link): only what the uploader states again replaces it.
            "effective_date = COALESCE(excluded.effective_date, documents.effective_date), "
            "expiry_date = COALESCE(excluded.expiry_date, documents.expiry_date), "
            "status = COALESCE(?, documents.status), url = COALESCE(excluded.url, documents.url), recipients = excluded.recipients, "
            "source_name = excluded.source_name, source_hash = excluded.source_hash, parser = excluded.parser, "
            "updated_at = excluded.updated_at",
            (
                doc_id, parent_id, title,
                (meta.doc_number if is_top and meta.doc_number else doc.doc_number),
                json.dumps(issuers, ensure_ascii=False), drafting, owner_department_id,
                (meta.publish_date if is_top and meta.publish_date else doc.publish_date),
                meta.effective_date if is_top else None,
                meta.expiry_date if is_top else inherited["expiry_date"],
                (meta.status or "current") if is_top else inherited["status"], meta.url if is_top else None,
                doc.recipients, doc.source_name,
                source_hash if is_top else None, PARSER_VERSION, stamp, stamp, meta.status if is_top else None,
            ),
        )
        if is_top:  # the documents a notice prints share its fate, as stored after this write
            row = conn.execute("SELECT status, expiry_date FROM documents WHERE id = ?", (doc_id,)).fetchone()
            inherited.update(status=row[0], expiry_date=row[1])
        result.document_ids.append(doc_id)
        article_ids = []
        for ordinal, article in enumerate(doc.articles):
            cur = conn.execute(
                "INSERT INTO articles(document_id, ordinal, label, path, text, lead_units, responsible_units) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (doc_id, ordinal, article.label, json.dumps(article.path, ensure_ascii=False), article.text,
                 json.dumps(article.lead_units, ensure_ascii=False),
                 json.dumps(article.responsible_units, ensure_ascii=False)),
            )
            result.articles += bool(article.label)
            article_ids.append(int(cur.fetchone()[0]))
        # Chunk headers carry the stored title, not necessarily the parsed one.
        for ordinal, chunk in chunks_for_document(replace(doc, title=title)):
            _insert_chunk(conn, result, doc_id, "article", chunk, article_id=article_ids[ordinal])
        for child in doc.children:
            store(child, doc_id, False)

    store(parsed, None, True)
    return result


def write_interpretation(
    conn: Connection,
    parsed: ParsedInterpretation,
    document_id: str,
    department: str,
    owner_department_id: int | None,
    source_hash: str | None,
) -> tuple[str, WriteResult]:
    interp_id = new_id()
    conn.execute(
        "INSERT INTO interpretations(id, document_id, title, department, publish_date, source_name, "
        "source_hash, owner_department_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (interp_id, document_id, parsed.title, department, parsed.publish_date, parsed.source_name,
         source_hash, owner_department_id, now()),
    )
    result = WriteResult(document_ids=[document_id])
    articles = conn.execute(
        "SELECT id, label, text FROM articles WHERE document_id = ? AND label != '' ORDER BY ordinal", (document_id,)
    ).fetchall()
    for ordinal, section in enumerate(parsed.sections):
        article_id = link_article(f"{section.question or ''}{section.answer}", articles)
        conn.execute(
            "INSERT INTO interpretation_sections(interpretation_id, ordinal, question, answer, article_id) "
            "VALUES (?, ?, ?, ?, ?)",
            (interp_id, ordinal, section.question, section.answer, article_id),
        )
    for _, chunk in chunk_interpretation(parsed):
        _insert_chunk(conn, result, document_id, "interpretation", chunk, interpretation_id=interp_id)
    return interp_id, result


FAQ_TOPIC = "常见问题"
# A section is linked to the article sharing most of its character bigrams, if
# that share is real and clearly ahead of the next article (measured on the
# sample interpretation: background and overview sections link to nothing).
LINK_SHARE = 0.4
LINK_MARGIN = 1.25


def faq_chunk(title: str, question: str, answer: str) -> Chunk:
    return Chunk(f"问：{question}\n答：{answer}", f"{title} > {FAQ_TOPIC}")


def write_faq(
    conn: Connection, document_id: str, question: str, answer: str, department: str,
    owner_department_id: int | None,
) -> tuple[int, WriteResult]:
    """A department's answer to a question citizens asked, searchable as kind ``faq``."""
    cur = conn.execute(
        "INSERT INTO faqs(document_id, question, answer, department, owner_department_id, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (document_id, question, answer, department, owner_department_id, now()),
    )
    faq_id = int(cur.fetchone()[0])
    title = conn.execute("SELECT title FROM documents WHERE id = ?", (document_id,)).fetchone()["title"]
    result = WriteResult(document_ids=[document_id])
    _insert_chunk(conn, result, document_id, "faq", faq_chunk(title, question, answer), faq_id=faq_id)
    return faq_id, result


def link_article(text: str, articles: list[Any]) -> int | None:
    """The article an interpretation section explains: the one it names, else the closest in wording.

    Named: the section quotes the article's label ("第五条", "（三）…"). Closest:
    the most character bigrams in common (see LINK_SHARE, LINK_MARGIN).
    """
    flat = "".join(text.split())
    for row in articles:
        label = "".join(row["label"].split())
        number = label.split("）")[0] + "）" if label.startswith("（") else label
        if len(label) >= 3 and (label in flat or (number.startswith("第") and number in flat)):
            return int(row["id"])
    grams = {flat[i:i + 2] for i in range(len(flat) - 1)}
    shares = []
    for row in articles:
        body = "".join(row["text"].split())
        shares.append((len(grams & {body[i:i + 2] for i in range(len(body) - 1)}) / (len(grams) or 1), int(row["id"])))
    shares.sort(reverse=True)
    if not shares or shares[0][0] < LINK_SHARE:
        return None
    if len(shares) > 1 and shares[0][0] < LINK_MARGIN * shares[1][0]:
        return None  # close to two articles: it explains neither in particular
    return shares[0][1]


def rechunk_document(conn: Connection, doc_id: str) -> WriteResult:
    """Rebuild a document's chunks from its stored articles and interpretations.

    Used when chunking changes (CHUNKER_VERSION) or a title changes (headers
    carry it); the source file is not needed.
    """
    result = WriteResult(document_ids=[doc_id])
    title = conn.execute("SELECT title FROM documents WHERE id = ?", (doc_id,)).fetchone()["title"]
    conn.execute("DELETE FROM chunks WHERE document_id = ?", (doc_id,))
    rows = conn.execute("SELECT * FROM articles WHERE document_id = ? ORDER BY ordinal", (doc_id,)).fetchall()
    doc = ParsedDocument(title=title, articles=[
        Article(r["label"], json.loads(r["path"]), r["text"]) for r in rows
    ])
    for ordinal, chunk in chunks_for_document(doc):
        _insert_chunk(conn, result, doc_id, "article", chunk, article_id=rows[ordinal]["id"])
    for interp in conn.execute("SELECT id, title FROM interpretations WHERE document_id = ?", (doc_id,)).fetchall():
        sections = conn.execute(
            "SELECT question, answer FROM interpretation_sections WHERE interpretation_id = ? ORDER BY ordinal",
            (interp["id"],),
        ).fetchall()
        parsed = ParsedInterpretation(title=interp["title"], sections=[
            InterpretationSection(answer=r["answer"], question=r["question"]) for r in sections
        ])
        for _, chunk in chunk_interpretation(parsed):
            _insert_chunk(conn, result, doc_id, "interpretation", chunk, interpretation_id=interp["id"])
    for faq in conn.execute("SELECT id, question, answer FROM faqs WHERE document_id = ?", (doc_id,)).fetchall():
        _insert_chunk(conn, result, doc_id, "faq", faq_chunk(title, faq["question"], faq["answer"]), faq_id=faq["id"])
    return result
