"""Rows of the knowledge base as typed objects, and their JSON shapes (API.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

STATUSES = ("current", "amended", "repealed", "expired")
STATUS_FILTERS = (*STATUSES, "all")  # what search may be restricted to


def effective_status(status: str, expiry_date: str | None, today: date | None = None) -> str:
    """A current document past its 有效期 (expiry_date) is expired, whatever was stored."""
    if status == "current" and expiry_date and expiry_date < (today or date.today()).isoformat():
        return "expired"
    return status


def passage_text(header: str, text: str) -> str:
    """What the embedder and BM25 see: the header, then the passage."""
    return f"{header}\n{text}" if header else text


@dataclass
class DocumentRecord:
    id: str
    title: str
    doc_number: str | None = None
    issuers: list[str] = field(default_factory=list)
    drafting_department: str | None = None
    publish_date: str | None = None
    effective_date: str | None = None
    expiry_date: str | None = None
    status: str = "current"
    url: str | None = None
    parent_id: str | None = None
    owner_department_id: int | None = None
    source_name: str | None = None
    supersedes: str | None = None  # the document this one replaces
    parser: str | None = None  # ingest.PARSER_VERSION that parsed it (None: before versions were kept)

    @property
    def issuer(self) -> str | None:
        return "、".join(self.issuers) or None

    @classmethod
    def from_row(cls, row: Any) -> DocumentRecord:
        return cls(
            id=row["id"],
            title=row["title"],
            doc_number=row["doc_number"],
            issuers=json.loads(row["issuers"]),
            drafting_department=row["drafting_department"],
            publish_date=row["publish_date"],
            effective_date=row["effective_date"],
            expiry_date=row["expiry_date"],
            status=effective_status(row["status"], row["expiry_date"]),
            url=row["url"],
            parent_id=row["parent_id"],
            owner_department_id=row["owner_department_id"],
            source_name=row["source_name"],
            supersedes=row["supersedes"] if "supersedes" in row.keys() else None,
            parser=row["parser"] if "parser" in row.keys() else None,
        )

    def to_json(self) -> dict[str, Any]:
        """The API's `Document` object."""
        return {
            "id": self.id,
            "title": self.title,
            "doc_number": self.doc_number,
            "issuer": self.issuer,
            "drafting_department": self.drafting_department,
            "publish_date": self.publish_date,
            "effective_date": self.effective_date,
            "expiry_date": self.expiry_date,
            "status": self.status,
            "url": self.url,
            "parent_id": self.parent_id,
            "supersedes": self.supersedes,
        }


@dataclass
class InterpretationRecord:
    id: str
    document_id: str
    title: str
    department: str
    publish_date: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> InterpretationRecord:
        return cls(
            id=row["id"],
            document_id=row["document_id"],
            title=row["title"],
            department=row["department"],
            publish_date=row["publish_date"],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "department": self.department,
            "publish_date": self.publish_date,
        }


@dataclass
class ChunkRecord:
    """A stored passage with what a search hit needs to cite it."""

    id: int
    document_id: str
    kind: str  # article | interpretation | faq
    header: str
    text: str
    article_label: str | None = None
    article_path: list[str] | None = None
    interpretation_id: str | None = None


@dataclass
class Department:
    id: int
    name: str
    is_admin: bool
