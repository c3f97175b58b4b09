"""Operations on the knowledge base with their rules: who may change what,
how uploads are parsed, deduplicated and linked, and what search sees after.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest import (
    PARSER_VERSION,
    IngestError,
    looks_like_interpretation,
    parse_interpretation,
    parse_policy,
    read_bytes,
)
from ingest.readers import MAX_BYTES
from ingest.model import ParsedInterpretation
from knowledge.base import KnowledgeBase
from knowledge.errors import Conflict, Forbidden, Invalid, NotFound
from knowledge.privacy import mask
from knowledge.records import STATUSES, Department, DocumentRecord
from knowledge.store import now
from knowledge.writer import (
    DocumentMeta, WriteResult, is_iso_date, new_id, rechunk_document, write_document, write_faq, write_interpretation,
)

logger = logging.getLogger(__name__)

EDITABLE = ("title", "doc_number", "issuer", "drafting_department", "publish_date", "effective_date",
            "expiry_date", "status", "url", "supersedes")
DATES = ("publish_date", "effective_date", "expiry_date")


@dataclass
class IngestOutcome:
    """What happened to one file."""

    source: str
    action: str  # added | replaced | unchanged
    kind: str  # policy | interpretation
    documents: list[DocumentRecord] = field(default_factory=list)
    articles: int = 0
    chunks: int = 0
    interpretation_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.source, "action": self.action, "kind": self.kind,
            "documents": [d.to_json() for d in self.documents], "articles": self.articles,
            "chunks": self.chunks, "interpretation_id": self.interpretation_id,
        }


def content_hash(text: str) -> str:
    return hashlib.sha256("".join(text.split()).encode()).hexdigest()


class KnowledgeService:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.store = kb.store

    # -- permissions ----------------------------------------------------------

    def check_can_edit(self, doc: DocumentRecord, actor: Department | None) -> None:
        """The owning or drafting department, or an admin (None is the local operator)."""
        if actor is None or actor.is_admin:
            return
        if doc.owner_department_id == actor.id or doc.drafting_department == actor.name:
            return
        owner = self.store.department_name(doc.owner_department_id) if doc.owner_department_id else None
        holders = "、".join(dict.fromkeys(d for d in (owner, doc.drafting_department) if d)) or "其他部门"
        raise Forbidden(f"文件《{doc.title}》由{holders}管理，{actor.name}无权修改；请联系该部门或管理员。")

    def require(self, doc_id: str) -> DocumentRecord:
        doc = self.store.get_document(doc_id)
        if doc is None:
            raise NotFound(f"找不到文件 {doc_id}；请先用 GET /api/v1/documents 查询文件编号。")
        return doc

    # -- ingest -----------------------------------------------------------------

    def ingest_file(self, path: Path, actor: Department | None = None, meta: DocumentMeta | None = None,
                    interprets: str | None = None, kind: str = "auto", fallback: bool = True) -> IngestOutcome:
        return self.ingest_bytes(path.read_bytes(), path.name, actor, meta, interprets, kind, fallback)

    def ingest_bytes(
        self, data: bytes, filename: str, actor: Department | None = None,
        meta: DocumentMeta | None = None, interprets: str | None = None, kind: str = "auto",
        fallback: bool = True, max_bytes: int = MAX_BYTES,
    ) -> IngestOutcome:
        """Parse and store one file; the caller runs ``kb.embed_pending`` after.

        ``kind`` "auto" tells an interpretation from a policy by its text; an
        interpretation whose policy is not in the knowledge base is kept as a
        policy when ``fallback`` is set (losing the text would be worse).
        """
        text = read_bytes(data, filename, max_bytes)
        meta = meta or DocumentMeta()
        if kind == "interpretation" or interprets or (kind == "auto" and looks_like_interpretation(text, filename)):
            parsed = parse_interpretation(text, filename)
            try:
                policy = self.resolve_policy(parsed, interprets)
            except Invalid:
                if kind == "interpretation" or interprets or not fallback:
                    raise
                logger.info("%s reads like an interpretation of a policy we do not hold; stored as a policy",
                            filename)
            else:
                return self.add_interpretation(parsed, actor, document_id=policy.id, text=text)
        return self._ingest_policy(text, filename, actor, meta)

    def _ingest_policy(self, text: str, filename: str, actor: Department | None,
                       meta: DocumentMeta) -> IngestOutcome:
        digest = content_hash(text)
        same = self._same_content(digest, actor)
        if same is not None and same.parser == PARSER_VERSION:  # fast path, checked again inside the transaction
            return self._unchanged(same, filename, actor, meta)
        parsed = parse_policy(text, filename)
        if not any(d.articles for d in parsed.walk()):
            raise IngestError(filename, "没有找到任何正文内容，请检查文件是否为空白或只有页眉页脚")
        title = meta.title or parsed.title
        number = meta.doc_number or parsed.doc_number
        with self.store.write() as conn:
            same = self._same_content(digest, actor)
            if same is not None and same.parser == PARSER_VERSION:
                return self._unchanged(same, filename, actor, meta)
            # The same text parsed by an older parser is parsed again in place.
            previous = same or self._previous_version(filename, actor, title, number)
            removed: list[int] = []
            if previous is not None:
                self._check_lifecycle(previous, {name: getattr(meta, name) for name in
                                                 ("status", "effective_date", "expiry_date") if getattr(meta, name)})
                # Articles and printed documents are replaced; the row and its
                # interpretations stay (they interpret the policy, not one file).
                removed = [r["id"] for r in conn.execute(
                    "SELECT id FROM chunks WHERE document_id = ? AND interpretation_id IS NULL", (previous.id,)
                )]
                removed += self.store.chunk_ids_of_documents(self.store.descendants(previous.id)[1:])
                conn.execute("DELETE FROM articles WHERE document_id = ?", (previous.id,))
                conn.execute("DELETE FROM documents WHERE parent_id = ?", (previous.id,))
            result = write_document(
                conn, parsed, meta, actor.id if actor else None, actor.name if actor else None,
                digest, top_id=previous.id if previous else None,
            )
            self.store.audit(conn, actor.name if actor else None,
                             "document.replace" if previous else "document.add",
                             result.document_ids[0], {"file": filename})
        if removed:
            self.kb.forget(removed)
        self._after_write(result)
        documents = [d for d in (self.store.get_document(i) for i in result.document_ids) if d]
        return IngestOutcome(filename, "replaced" if previous else "added", "policy", documents,
                             result.articles, result.passages)

    def _same_content(self, digest: str, actor: Department | None) -> DocumentRecord | None:
        """A top-level document with exactly this text, or raise if another department holds it."""
        existing = [d for d in self.store.documents_by_source_hash(digest) if d.parent_id is None]
        if not existing:
            return None
        mine = [d for d in existing if actor is None or actor.is_admin or d.owner_department_id == actor.id]
        if mine:
            return mine[0]
        holder = self.store.department_name(existing[0].owner_department_id) or "其他部门"
        raise Conflict(f"同样内容的文件《{existing[0].title}》已由{holder}上传（编号 {existing[0].id}），"
                       f"无需重复上传；如需修改请联系该部门。")

    def _unchanged(self, doc: DocumentRecord, filename: str, actor: Department | None,
                   meta: DocumentMeta) -> IngestOutcome:
        """The same text again: apply the metadata the uploader gave, store nothing else."""
        given = {name: getattr(meta, name) for name in ("title", "doc_number", "issuer", "drafting_department",
                                                          "publish_date", "effective_date", "expiry_date",
                                                          "url") if getattr(meta, name)}
        if meta.status and meta.status != doc.status:
            given["status"] = meta.status
        changes = {k: v for k, v in given.items() if getattr(doc, k) != v}
        if changes:
            doc = self.update_document(doc.id, changes, actor)
        tree = self.store.descendants(doc.id)
        documents = [d for d in (self.store.get_document(i) for i in tree) if d]
        return IngestOutcome(filename, "updated" if changes else "unchanged", "policy", documents,
                             self.store.count_articles(tree))

    def _previous_version(self, filename: str, actor: Department | None, title: str,
                          doc_number: str | None) -> DocumentRecord | None:
        """The same document uploaded before by the same department, from a file of the same name:
        same 文号, or same title when neither has one. A new version replaces it."""
        rows = self.store.read(
            "SELECT id FROM documents WHERE parent_id IS NULL AND source_name = ? "
            "AND owner_department_id IS NOT DISTINCT FROM ? ORDER BY created_at DESC",
            (filename, actor.id if actor else None),
        )
        for row in rows:
            doc = self.store.get_document(row["id"])
            if doc is None:
                continue
            if doc.doc_number and doc_number:
                if doc.doc_number == doc_number:
                    return doc
            elif doc.title == title:
                return doc
        return None

    def _after_write(self, result: WriteResult) -> None:
        self.kb.mark_written([c.id for c in result.chunks], [c.tokens for c in result.chunks])

    # -- interpretations -----------------------------------------------------

    def resolve_policy(self, parsed: ParsedInterpretation, document_id: str | None) -> DocumentRecord:
        if document_id:
            return self.require(document_id)
        for number, title in ((parsed.policy_doc_number, None), (None, parsed.policy_title)):
            found = self.store.find_documents(doc_number=number, title=title)
            if len(found) == 1:
                return found[0]
            if found:  # e.g. two years' notices under one title: never guess
                listed = "；".join(f"《{d.title[:60]}》{d.doc_number or ''}（编号 {d.id}）" for d in found[:5])
                raise Invalid(
                    f"解读《{parsed.title[:60]}》所指的政策 {(number or title or '')[:60]} 对应 {len(found)} 份文件："
                    f"{listed}。请在解读中写明文号，或通过 POST /api/v1/documents/{{id}}/interpretations 指定政策编号。"
                )
        named = parsed.policy_doc_number or parsed.policy_title or "（未写明）"
        raise Invalid(
            f"解读《{parsed.title[:60]}》对应的政策 {named[:60]} 不在知识库中；请先上传该政策，"
            f"或通过 POST /api/v1/documents/{{id}}/interpretations 指定政策编号。"
        )

    def add_interpretation(
        self, parsed: ParsedInterpretation, actor: Department | None, document_id: str | None = None,
        text: str | None = None,
    ) -> IngestOutcome:
        policy = self.resolve_policy(parsed, document_id)
        self.check_can_edit(policy, actor)
        if not parsed.sections:
            raise Invalid(f"解读《{parsed.title}》没有正文；请提供解读内容。")
        digest = content_hash(text) if text else None
        if digest:
            rows = self.store.read(
                "SELECT id FROM interpretations WHERE source_hash = ? AND document_id = ?", (digest, policy.id)
            )
            if rows:
                return IngestOutcome(parsed.source_name or parsed.title, "unchanged", "interpretation",
                                     [policy], interpretation_id=rows[0]["id"])
        department = parsed.department or policy.drafting_department or (actor.name if actor else None)
        if actor is not None and not actor.is_admin and department != actor.name:
            # 谁起草、谁解读: a department speaks for itself; naming another (in the file or the
            # request) would put that department's name on words it never published.
            logger.info("interpretation of %s uploaded by %s names %s; recorded as %s's",
                        policy.id, actor.name, department, actor.name)
            department = actor.name
        removed: list[int] = []
        with self.store.write() as conn:
            # A new version of the same file replaces the interpretation it gave before.
            previous = [r["id"] for r in conn.execute(
                "SELECT id FROM interpretations WHERE document_id = ? AND source_name = ?",
                (policy.id, parsed.source_name),
            )] if parsed.source_name else []
            for old_id in previous:
                removed += [r["id"] for r in conn.execute(
                    "SELECT id FROM chunks WHERE interpretation_id = ?", (old_id,))]
                conn.execute("DELETE FROM interpretations WHERE id = ?", (old_id,))
            interp_id, result = write_interpretation(
                conn, parsed, policy.id, department or "未注明", actor.id if actor else None, digest,
            )
            self.store.audit(conn, actor.name if actor else None,
                             "interpretation.replace" if previous else "interpretation.add", interp_id,
                             {"document_id": policy.id, "replaced": previous})
        if removed:
            self.kb.forget(removed)
        self._after_write(result)
        return IngestOutcome(parsed.source_name or parsed.title, "replaced" if previous else "added",
                             "interpretation", [policy], chunks=result.passages, interpretation_id=interp_id)

    # -- documents -------------------------------------------------------------

    def update_document(self, doc_id: str, changes: dict[str, Any], actor: Department | None) -> DocumentRecord:
        doc = self.require(doc_id)
        self.check_can_edit(doc, actor)
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise Invalid(f"不能修改字段 {', '.join(sorted(unknown))}；可修改的字段：{', '.join(EDITABLE)}。")
        if "status" in changes and changes["status"] not in STATUSES:
            raise Invalid(f"status 只能是 {' / '.join(STATUSES)}。")
        for name in DATES:
            value = changes.get(name)
            if value is not None and not is_iso_date(value):
                raise Invalid(f"{name} 须为 YYYY-MM-DD 格式的日期（收到 {str(value)[:20]}）。")
        self._check_lifecycle(doc, changes)
        for name in ("title", "drafting_department"):
            if name in changes and not str(changes[name] or "").strip():
                raise Invalid(f"{name} 不能为空；不需要修改时请不要提交该字段。")
        old = changes.get("supersedes")
        if old is not None:
            self._check_supersedes(doc_id, old, actor)
        if not changes:
            return doc
        columns = {("issuers" if name == "issuer" else name): value for name, value in changes.items()}
        if "issuers" in columns:  # one issuer given for the list the document stores
            columns["issuers"] = json.dumps([columns["issuers"]] if columns["issuers"] else [], ensure_ascii=False)
        with self.store.write() as conn:
            sets = ", ".join(f"{name} = ?" for name in columns)
            conn.execute(f"UPDATE documents SET {sets}, updated_at = ? WHERE id = ?",
                         (*columns.values(), now(), doc_id))
            if changes.get("supersedes"):  # sent again, it repeals again (the old one may have been restored)
                # The document this one replaces is no longer in force, nor what it prints.
                for replaced in self.store.descendants(changes["supersedes"]):
                    conn.execute("UPDATE documents SET status = 'repealed', updated_at = ? WHERE id = ? "
                                 "AND status = 'current'", (now(), replaced))
            # The documents a notice prints share its fate (and validity) in this knowledge base.
            for name in ("status", "expiry_date"):
                if name in changes:
                    for child in self.store.descendants(doc_id)[1:]:
                        conn.execute(f"UPDATE documents SET {name} = ? WHERE id = ?", (changes[name], child))
            rewritten = None
            if "title" in changes and changes["title"] != doc.title:
                # Every chunk header names the title: re-chunk so search sees the new one.
                old_chunks = self.store.chunk_ids_of_documents([doc_id])
                rewritten = rechunk_document(conn, doc_id)
            self.store.audit(conn, actor.name if actor else None, "document.update", doc_id, changes)
        if rewritten is not None:
            self.kb.forget(old_chunks)
            self._after_write(rewritten)
        else:
            self.kb.refresh_filters()
        return self.require(doc_id)

    def _check_lifecycle(self, doc: DocumentRecord, changes: dict[str, Any]) -> None:
        """Validity dates in order, and no return to force while a successor stands (PATCH and a
        new version of the file alike)."""
        effective = changes.get("effective_date", doc.effective_date)
        expiry = changes.get("expiry_date", doc.expiry_date)
        if effective and expiry and expiry < effective:
            raise Invalid(f"失效日期 expiry_date（{expiry}）不能早于生效日期 effective_date（{effective}），"
                          f"请检查后再提交。")
        if changes.get("status") == "current" and doc.status != "current":
            successor = self.store.read("SELECT title, doc_number FROM documents WHERE supersedes = ? "
                                        "AND status = 'current' LIMIT 1", (doc.id,))
            if successor:
                named = f"《{successor[0]['title']}》{successor[0]['doc_number'] or ''}"
                raise Invalid(f"{named}已取代本文件，本文件不能恢复为现行；如确需恢复，请先在新文件上"
                              f"取消取代关系（supersedes 设为 null）。")

    def _check_supersedes(self, doc_id: str, old: str, actor: Department | None) -> None:
        """The replaced document exists, may be changed by the actor, and is not part of this one's
        notice nor (through earlier replacements) this document itself."""
        replaced = self.store.get_document(old)
        if replaced is None:  # a bad value in the request, not a missing document being patched
            raise Invalid(f"supersedes 指向的文件 {old} 不存在；请填写被替代文件的编号（见文件列表）。")
        self.check_can_edit(replaced, actor)
        if old in self.store.descendants(doc_id) or doc_id in self.store.descendants(old):
            raise Invalid("supersedes 不能指向文件自身、它印发的文件或印发它的通知；请指向被替代的另一份文件。")
        seen, cursor = set(), replaced
        while cursor is not None and cursor.supersedes and cursor.id not in seen:
            if cursor.supersedes == doc_id:
                raise Invalid(f"《{replaced.title}》已经（直接或间接）替代了本文件，不能再反向替代；请检查替代关系。")
            seen.add(cursor.id)
            cursor = self.store.get_document(cursor.supersedes)

    # -- FAQ -------------------------------------------------------------------

    def add_faq(self, question: str, answer: str, actor: Department | None,
                document_id: str | None = None) -> dict[str, Any]:
        """A department's answer to a question the bot could not answer, searchable at once.

        Attached to one of the department's documents, or else to its own FAQ
        collection (a document titled "<department>常见问题解答").
        """
        # A citizen's question may carry their numbers; the answer is the department's own text.
        question, answer = mask(question.strip()), answer.strip()
        if not question or not answer:
            raise Invalid("问题和答复都不能为空。")
        if len(question) > 500 or len(answer) > 2000:
            raise Invalid("问题不超过500字，答复不超过2000字；较长的内容请作为政策解读上传。")
        department = actor.name if actor else "管理员"
        if document_id:
            doc = self.require(document_id)
            self.check_can_edit(doc, actor)
        else:
            doc = self._faq_collection(actor)
        with self.store.write() as conn:
            faq_id, result = write_faq(conn, doc.id, question, answer, department, actor.id if actor else None)
            self.store.audit(conn, actor.name if actor else None, "faq.add", str(faq_id),
                             {"document_id": doc.id, "question": question[:100]})
        self._after_write(result)
        return {"id": str(faq_id), "question": question, "answer": answer, "department": department,
                "document_id": doc.id}

    def _faq_collection(self, actor: Department | None) -> DocumentRecord:
        name = actor.name if actor else "管理员"
        source = f"faq:{name}"
        with self.store.write() as conn:  # looked up and created in one transaction: never two
            row = conn.execute("SELECT id FROM documents WHERE source_name = ? AND parent_id IS NULL",
                               (source,)).fetchone()
            doc_id = row["id"] if row else new_id()
            if row is None:
                conn.execute(
                    "INSERT INTO documents(id, title, issuers, drafting_department, owner_department_id, status, "
                    "source_name, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'current', ?, ?, ?)",
                    (doc_id, f"{name}常见问题解答", json.dumps([name], ensure_ascii=False), name,
                     actor.id if actor else None, source, now(), now()),
                )
        return self.require(doc_id)

    def delete_document(self, doc_id: str, actor: Department | None) -> None:
        doc = self.require(doc_id)
        self.check_can_edit(doc, actor)
        with self.store.write() as conn:
            # Read inside the transaction: an interpretation added meanwhile goes too.
            chunk_ids = self.store.chunk_ids_of_documents(self.store.descendants(doc_id))
            conn.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
            self.store.audit(conn, actor.name if actor else None, "document.delete", doc_id,
                             {"title": doc.title})
        self.kb.forget(chunk_ids)

    def document_detail(self, doc_id: str) -> dict[str, Any]:
        doc = self.require(doc_id)
        out = doc.to_json()
        out["articles"] = [
            {k: a[k] for k in ("label", "path", "text", "responsible_units", "lead_units")}
            for a in self.store.articles(doc_id)
        ]
        out["children"] = [
            d.to_json() for d in self.store.list_documents(status="all") if d.parent_id == doc_id
        ]
        out["interpretations"] = [
            {**i.to_json(), "sections": self.store.interpretation_sections(i.id)}
            for i in self.store.interpretations(doc_id)
        ]
        # The documents that replace this one (an agent reading a repealed notice needs the new one).
        out["superseded_by"] = [
            {"id": r["id"], "title": r["title"], "doc_number": r["doc_number"], "status": r["status"]}
            for r in self.store.read("SELECT id, title, doc_number, status FROM documents WHERE supersedes = ? "
                                     "ORDER BY publish_date DESC", (doc_id,))
        ]
        return out
