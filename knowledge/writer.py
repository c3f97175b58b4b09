"""Turn parsed documents and interpretations into rows, inside one transaction.

Chunking and tokenising happen here, before the transaction commits, so the
lexical index can serve a new document the moment it is stored.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass, field

from ingest.chunking import chunk_interpretation, chunks_for_document
from ingest.model import Chunk, ParsedDocument, ParsedInterpretation
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
    status: str = "current"
    url: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {self.status!r}")


@dataclass
class StoredChunk:
    id: int
    tokens: list[str]
    embed_text: str


@dataclass
class WriteResult:
    document_ids: list[str] = field(default_factory=list)
    chunks: list[StoredChunk] = field(default_factory=list)
    articles: int = 0


def _insert_chunk(
    conn: sqlite3.Connection, result: WriteResult, document_id: str, kind: str, chunk: Chunk,
    article_id: int | None = None, interpretation_id: str | None = None,
) -> None:
    text = passage_text(chunk.header, chunk.text)
    tokens = tokenize(text)
    cur = conn.execute(
        "INSERT INTO chunks(document_id, article_id, interpretation_id, kind, part, header, text, tokens) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (document_id, article_id, interpretation_id, kind, chunk.part, chunk.header, chunk.text,
         " ".join(tokens)),
    )
    result.chunks.append(StoredChunk(int(cur.lastrowid or 0), tokens, text))


def write_document(
    conn: sqlite3.Connection,
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

    def store(doc: ParsedDocument, parent_id: str | None, is_top: bool) -> None:
        doc_id = (top_id if is_top and top_id else None) or new_id()
        issuers = list(doc.issuers)
        if is_top and meta.issuer:
            issuers = [meta.issuer]
        drafting = (meta.drafting_department if is_top else None) or (issuers[0] if issuers else None)
        drafting = drafting or owner_department_name
        conn.execute(
            "INSERT INTO documents(id, parent_id, title, doc_number, issuers, drafting_department, "
            "owner_department_id, publish_date, effective_date, expiry_date, status, url, recipients, "
            "source_name, source_hash, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                doc_id, parent_id,
                (meta.title if is_top and meta.title else doc.title) or (doc.source_name or "未命名文件"),
                (meta.doc_number if is_top and meta.doc_number else doc.doc_number),
                json.dumps(issuers, ensure_ascii=False), drafting, owner_department_id,
                (meta.publish_date if is_top and meta.publish_date else doc.publish_date),
                meta.effective_date if is_top else None,
                meta.expiry_date if is_top else None,
                meta.status, meta.url if is_top else None, doc.recipients, doc.source_name,
                source_hash if is_top else None, stamp, stamp,
            ),
        )
        result.document_ids.append(doc_id)
        article_ids = []
        for ordinal, article in enumerate(doc.articles):
            cur = conn.execute(
                "INSERT INTO articles(document_id, ordinal, label, path, text, lead_units, responsible_units) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (doc_id, ordinal, article.label, json.dumps(article.path, ensure_ascii=False), article.text,
                 json.dumps(article.lead_units, ensure_ascii=False),
                 json.dumps(article.responsible_units, ensure_ascii=False)),
            )
            result.articles += bool(article.label)
            article_ids.append(cur.lastrowid)
        if is_top and meta.title:
            doc.title = meta.title
        for ordinal, chunk in chunks_for_document(doc):
            _insert_chunk(conn, result, doc_id, "article", chunk, article_id=article_ids[ordinal])
        for child in doc.children:
            store(child, doc_id, False)

    store(parsed, None, True)
    return result


def write_interpretation(
    conn: sqlite3.Connection,
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
    for ordinal, section in enumerate(parsed.sections):
        conn.execute(
            "INSERT INTO interpretation_sections(interpretation_id, ordinal, question, answer) VALUES (?, ?, ?, ?)",
            (interp_id, ordinal, section.question, section.answer),
        )
    for _, chunk in chunk_interpretation(parsed):
        _insert_chunk(conn, result, document_id, "interpretation", chunk, interpretation_id=interp_id)
    return interp_id, result
