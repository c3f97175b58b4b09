"""The store: the source of truth for everything policybot knows.

SQLite in the data directory by default (WAL mode), or PostgreSQL when a
``postgresql://`` URL is given (knowledge/db.py holds the differences). One
writer at a time (a process lock plus ``BEGIN IMMEDIATE`` or an advisory
lock), and a ``generation`` counter bumped by every write so derived indexes,
in this worker or another, can tell whether they are stale.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.db import MIGRATION_LOCK, Connection, begin_write, connect, ddl_for, describe, is_postgres
from knowledge.records import ChunkRecord, Department, DocumentRecord, InterpretationRecord, passage_text
from knowledge.schema import MIGRATIONS, POSTGRES_ONLY

logger = logging.getLogger(__name__)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def open_store(data_dir: Path, database_url: str | None = None) -> Store:
    """The configured store: PostgreSQL at ``database_url``, else SQLite in the data directory."""
    return Store(database_url or data_dir / "policybot.sqlite3")


class Store:
    """Typed access to the database; safe to share between threads.

    ``location`` is the SQLite file's path or a ``postgresql://`` URL.
    """

    def __init__(self, location: Path | str) -> None:
        self.path = location
        self.postgres = is_postgres(location)
        if not self.postgres:
            Path(location).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._connections: list[Connection] = []  # every thread's, so close() can close them all
        self._epoch = 0  # bumped by close(): threads then open new connections
        self._migrate()

    # -- connections and transactions -------------------------------------

    def __repr__(self) -> str:
        return f"Store({describe(self.path)})"

    def _conn(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "epoch", -1) != self._epoch:
            try:
                conn = connect(self.path)
            except Exception as exc:
                if not self.postgres:
                    raise
                raise ConnectionError(
                    f"cannot connect to PostgreSQL at {describe(self.path)}: {exc}; "
                    "check POLICYBOT_DATABASE_URL and that the server is running"
                ) from exc
            self._local.conn, self._local.epoch = conn, self._epoch
            with self._write_lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def write(self, bump: bool = True) -> Iterator[Connection]:
        """One write transaction; commits and bumps the generation on success.

        ``bump=False`` is for rows no index derives from (questions, feedback,
        sessions, WeChat dedup): they must not make every worker re-sync.
        """
        with self._write_lock:
            conn = self._conn()
            if conn.in_transaction:  # nested use joins the outer transaction
                yield conn
                return
            begin_write(conn)
            try:
                yield conn
                if bump:
                    conn.execute(
                        "UPDATE state SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
                    )
                    committed = self.generation()
                conn.execute("COMMIT")
                if bump:
                    self._local.committed = committed
            except BaseException:
                if conn.in_transaction:  # SQLite may already have rolled back (e.g. disk full)
                    conn.execute("ROLLBACK")
                raise

    def read(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[Any]:
        return self._conn().execute(sql, params).fetchall()

    def close(self) -> None:
        """Close every thread's connection; the store reconnects if used again."""
        with self._write_lock:
            connections, self._connections = self._connections, []
            self._epoch += 1
        for conn in connections:
            conn.close()
        self._local.conn = None

    def _migrate(self) -> None:
        """Apply the migrations this database lacks, each once, in order."""
        conn = self._conn()
        pending = [name for name, _ in MIGRATIONS if name not in self._applied(conn)]
        if not pending:
            return
        with self._write_lock:
            # Workers starting together: the lock lets one apply; the others then find them applied.
            begin_write(conn, MIGRATION_LOCK)
            try:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
                )
                applied = {row["name"] for row in conn.execute("SELECT name FROM migrations").fetchall()}
                for name, sql in MIGRATIONS:
                    if name in applied:
                        continue
                    logger.info("applying migration %s to %s", name, describe(self.path))
                    statements = sql.split(";") + (POSTGRES_ONLY.get(name, []) if self.postgres else [])
                    for statement in statements:
                        if statement.strip():
                            conn.execute(ddl_for(conn, statement))
                    conn.execute("INSERT INTO migrations VALUES (?, ?)", (name, now()))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _applied(self, conn: Connection) -> set[str]:
        if self.postgres:
            exists = conn.execute("SELECT to_regclass('migrations') IS NOT NULL AS yes").fetchone()
        else:
            exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'").fetchone()
        if not exists or (self.postgres and not exists["yes"]):
            return set()
        return {row["name"] for row in conn.execute("SELECT name FROM migrations").fetchall()}

    def generation(self) -> int:
        row = self.read("SELECT value FROM state WHERE key = 'generation'")[0]
        return int(row["value"])

    def committed_generation(self) -> int | None:
        """The generation this thread's last write transaction committed."""
        committed: int | None = getattr(self._local, "committed", None)
        return committed

    def get_state(self, key: str) -> str | None:
        rows = self.read("SELECT value FROM state WHERE key = ?", (key,))
        return rows[0]["value"] if rows else None

    def retokenize(self, tokenize: Callable[[str], list[str]], version: str) -> int:
        """Recompute every chunk's stored BM25 tokens (after a tokenizer change)."""
        count = 0
        for rows in self.iter_chunks():
            with self.write() as conn:
                conn.executemany(
                    "UPDATE chunks SET tokens = ? WHERE id = ?",
                    [(" ".join(tokenize(passage_text(r["header"], r["text"]))), r["id"]) for r in rows],
                )
            count += len(rows)
        self.set_state("tokenizer", version)
        return count

    def set_state(self, key: str, value: str) -> None:
        with self.write() as conn:
            conn.execute("INSERT INTO state(key, value) VALUES (?, ?) "
                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    def audit(
        self, conn: Connection, actor: str | None, action: str, target: str | None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        conn.execute(
            "INSERT INTO audit_log(at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
            (now(), actor, action, target, json.dumps(detail or {}, ensure_ascii=False)),
        )

    # -- departments and keys ---------------------------------------------

    def add_department(self, name: str, admin: bool = False) -> tuple[Department, str]:
        """Create a department (or reuse it) and issue a new key, returned once."""
        name = name.strip()
        if not name:
            raise ValueError("部门名称不能为空")
        key = "pb_" + secrets.token_urlsafe(24)
        with self.write() as conn:
            conn.execute(
                "INSERT INTO departments(name, is_admin, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET is_admin = "
                "CASE WHEN excluded.is_admin > departments.is_admin THEN excluded.is_admin ELSE departments.is_admin END",
                (name, int(admin), now()),
            )
            row = conn.execute("SELECT * FROM departments WHERE name = ?", (name,)).fetchone()
            conn.execute(
                "INSERT INTO api_keys(department_id, key_hash, created_at) VALUES (?, ?, ?)",
                (row["id"], hash_key(key), now()),
            )
            self.audit(conn, None, "department.key_issued", name)
        return Department(row["id"], row["name"], bool(row["is_admin"])), key

    def ensure_department(self, name: str) -> Department:
        """The department of that name, created without a key if new."""
        rows = self.read("SELECT * FROM departments WHERE name = ?", (name,))
        if not rows:
            with self.write() as conn:
                conn.execute(
                    "INSERT INTO departments(name, is_admin, created_at) VALUES (?, 0, ?) ON CONFLICT(name) DO NOTHING",
                    (name, now()),
                )
            rows = self.read("SELECT * FROM departments WHERE name = ?", (name,))
        return Department(rows[0]["id"], rows[0]["name"], bool(rows[0]["is_admin"]))

    def department_for_key(self, key: str) -> Department | None:
        rows = self.read(
            "SELECT d.* FROM api_keys k JOIN departments d ON d.id = k.department_id "
            "WHERE k.key_hash = ? AND k.revoked_at IS NULL",
            (hash_key(key),),
        )
        if not rows:
            return None
        return Department(rows[0]["id"], rows[0]["name"], bool(rows[0]["is_admin"]))

    def department_name(self, department_id: int | None) -> str | None:
        if department_id is None:
            return None
        rows = self.read("SELECT name FROM departments WHERE id = ?", (department_id,))
        return rows[0]["name"] if rows else None

    # -- documents ----------------------------------------------------------

    def get_document(self, doc_id: str) -> DocumentRecord | None:
        rows = self.read("SELECT * FROM documents WHERE id = ?", (doc_id,))
        return DocumentRecord.from_row(rows[0]) if rows else None

    def list_documents(self, status: str | None = None, title_like: str | None = None) -> list[DocumentRecord]:
        sql, params = "SELECT * FROM documents WHERE 1=1", []
        if title_like:
            sql += " AND (instr(title, ?) > 0 OR instr(coalesce(doc_number, ''), ?) > 0)"
            params += [title_like, title_like]
        sql += " ORDER BY coalesce(publish_date, '') DESC, created_at DESC"
        documents = [DocumentRecord.from_row(r) for r in self.read(sql, params)]
        # Filter on the effective status: a policy past its expiry date is expired.
        return [d for d in documents if not status or status == "all" or d.status == status]

    def documents_by_source_hash(self, source_hash: str) -> list[DocumentRecord]:
        rows = self.read("SELECT * FROM documents WHERE source_hash = ? ORDER BY created_at", (source_hash,))
        return [DocumentRecord.from_row(r) for r in rows]

    def find_documents(self, doc_number: str | None = None, title: str | None = None) -> list[DocumentRecord]:
        if doc_number:
            rows = self.read("SELECT * FROM documents WHERE doc_number = ?", (doc_number,))
        elif title:
            rows = self.read("SELECT * FROM documents WHERE title = ?", (title,))
        else:
            return []
        return [DocumentRecord.from_row(r) for r in rows]

    def descendants(self, doc_id: str) -> list[str]:
        rows = self.read(
            "WITH RECURSIVE sub(id) AS (SELECT ? UNION ALL "
            "SELECT d.id FROM documents d JOIN sub ON d.parent_id = sub.id) SELECT id FROM sub",
            (doc_id,),
        )
        return [r["id"] for r in rows]

    def chunk_ids_of_documents(self, doc_ids: list[str]) -> list[int]:
        if not doc_ids:
            return []
        marks = ",".join("?" * len(doc_ids))
        rows = self.read(f"SELECT id FROM chunks WHERE document_id IN ({marks})", doc_ids)
        return [r["id"] for r in rows]

    def articles(self, doc_id: str) -> list[dict[str, Any]]:
        rows = self.read("SELECT * FROM articles WHERE document_id = ? ORDER BY ordinal", (doc_id,))
        return [
            {
                "label": r["label"],
                "path": json.loads(r["path"]),
                "text": r["text"],
                "lead_units": json.loads(r["lead_units"]),
                "responsible_units": list(
                    dict.fromkeys(json.loads(r["lead_units"]) + json.loads(r["responsible_units"]))
                ),
            }
            for r in rows
        ]

    def count_articles(self, doc_ids: list[str]) -> int:
        """Labelled articles (unnumbered passages are not articles)."""
        if not doc_ids:
            return 0
        marks = ",".join("?" * len(doc_ids))
        sql = f"SELECT count(*) AS n FROM articles WHERE label != '' AND document_id IN ({marks})"
        return int(self.read(sql, doc_ids)[0]["n"])

    # -- interpretations ----------------------------------------------------

    def interpretations(self, doc_id: str) -> list[InterpretationRecord]:
        rows = self.read(
            "SELECT * FROM interpretations WHERE document_id = ? ORDER BY created_at", (doc_id,)
        )
        return [InterpretationRecord.from_row(r) for r in rows]

    def get_interpretation(self, interp_id: str) -> InterpretationRecord | None:
        rows = self.read("SELECT * FROM interpretations WHERE id = ?", (interp_id,))
        return InterpretationRecord.from_row(rows[0]) if rows else None

    def interpretation_sections(self, interp_id: str) -> list[dict[str, Any]]:
        rows = self.read(
            "SELECT s.question, s.answer, a.label FROM interpretation_sections s "
            "LEFT JOIN articles a ON a.id = s.article_id WHERE s.interpretation_id = ? ORDER BY s.ordinal",
            (interp_id,),
        )
        # article: the label of the article the section explains, when one was found
        return [{"question": r["question"], "answer": r["answer"], "article": r["label"]} for r in rows]

    # -- chunks ---------------------------------------------------------------

    def chunk_records(self, ids: list[int]) -> dict[int, ChunkRecord]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.read(
            f"SELECT c.id, c.document_id, c.kind, c.header, c.text, c.interpretation_id, "
            f"a.label, a.path FROM chunks c LEFT JOIN articles a ON a.id = c.article_id "
            f"WHERE c.id IN ({marks})",
            ids,
        )
        return {
            r["id"]: ChunkRecord(
                id=r["id"], document_id=r["document_id"], kind=r["kind"], header=r["header"],
                text=r["text"], article_label=r["label"],
                article_path=json.loads(r["path"]) if r["path"] is not None else None,
                interpretation_id=r["interpretation_id"],
            )
            for r in rows
        }

    def iter_chunks(self, batch: int = 2000) -> Iterator[list[Any]]:
        """All chunks in id order, in batches, for rebuilding derived indexes."""
        last = 0
        while True:
            rows = self.read(
                "SELECT id, document_id, header, text, tokens FROM chunks WHERE id > ? ORDER BY id LIMIT ?",
                (last, batch),
            )
            if not rows:
                return
            yield rows
            last = rows[-1]["id"]

    def chunk_filters(self, ids: list[int] | None = None) -> list[Any]:
        """Per chunk (all, or these): what search filters look at (status, departments, 文号)."""
        sql = (
            "SELECT c.id, c.parent_chunk_id, d.id AS document_id, d.title, d.status, d.drafting_department, "
            "d.issuers, d.doc_number, d.expiry_date, i.department AS interp_department "
            "FROM chunks c JOIN documents d ON d.id = c.document_id "
            "LEFT JOIN interpretations i ON i.id = c.interpretation_id"
        )
        if ids is None:
            return self.read(sql)
        rows: list[Any] = []
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            rows += self.read(f"{sql} WHERE c.id IN ({','.join('?' * len(part))})", part)
        return rows

    # -- embedding cache (knowledge.embedders.EmbeddingCache) -----------------

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            part = keys[start:start + 500]
            marks = ",".join("?" * len(part))
            for r in self.read(f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", part):
                out[r["key"]] = np.frombuffer(r["vector"], dtype=np.float32)
        return out

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        if not items:
            return
        # The cache is not part of the knowledge itself: no generation bump.
        with self._write_lock:
            conn = self._conn()
            begin_write(conn)
            try:
                conn.executemany(
                    "INSERT INTO embeddings(key, dim, vector) VALUES (?, ?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET dim = excluded.dim, vector = excluded.vector",
                    [(k, int(v.shape[0]), np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()],
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # SQLite may already have rolled back (e.g. disk full)
                    conn.execute("ROLLBACK")
                raise
