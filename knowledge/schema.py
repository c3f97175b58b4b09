"""Named schema migrations, applied in order, each once, on SQLite and PostgreSQL.

Written in SQLite's words; knowledge/db.py spells the column types for
PostgreSQL, and POSTGRES_ONLY adds what PostgreSQL lacks that the store's SQL
uses, inside the same migration.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_initial",
        """
        CREATE TABLE departments (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            is_admin INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        );
        CREATE TABLE api_keys (
            id INTEGER PRIMARY KEY,
            department_id INTEGER NOT NULL REFERENCES departments(id) ON DELETE CASCADE,
            key_hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        );
        CREATE TABLE documents (
            id TEXT PRIMARY KEY,
            parent_id TEXT REFERENCES documents(id) ON DELETE CASCADE,
            title TEXT NOT NULL,
            doc_number TEXT,
            issuers TEXT NOT NULL DEFAULT '[]',
            drafting_department TEXT,
            owner_department_id INTEGER REFERENCES departments(id),
            publish_date TEXT,
            effective_date TEXT,
            expiry_date TEXT,
            status TEXT NOT NULL DEFAULT 'current',
            url TEXT,
            recipients TEXT,
            source_name TEXT,
            source_hash TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX documents_doc_number ON documents(doc_number);
        CREATE INDEX documents_parent ON documents(parent_id);
        CREATE INDEX documents_source_hash ON documents(source_hash);
        CREATE TABLE articles (
            id INTEGER PRIMARY KEY,
            document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            ordinal INTEGER NOT NULL,
            label TEXT NOT NULL,
            path TEXT NOT NULL,
            text TEXT NOT NULL,
            lead_units TEXT NOT NULL DEFAULT '[]',
            responsible_units TEXT NOT NULL DEFAULT '[]'
        );
        CREATE INDEX articles_document ON articles(document_id, ordinal);
        CREATE TABLE interpretations (
            id TEXT PRIMARY KEY,
            document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            title TEXT NOT NULL,
            department TEXT NOT NULL,
            publish_date TEXT,
            source_name TEXT,
            source_hash TEXT,
            owner_department_id INTEGER REFERENCES departments(id),
            created_at TEXT NOT NULL
        );
        CREATE INDEX interpretations_document ON interpretations(document_id);
        CREATE TABLE interpretation_sections (
            id INTEGER PRIMARY KEY,
            interpretation_id TEXT NOT NULL REFERENCES interpretations(id) ON DELETE CASCADE,
            ordinal INTEGER NOT NULL,
            question TEXT,
            answer TEXT NOT NULL
        );
        CREATE TABLE chunks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            article_id INTEGER REFERENCES articles(id) ON DELETE CASCADE,
            interpretation_id TEXT REFERENCES interpretations(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            part INTEGER NOT NULL DEFAULT 0,
            header TEXT NOT NULL,
            text TEXT NOT NULL,
            tokens TEXT NOT NULL
        );
        CREATE INDEX chunks_document ON chunks(document_id);
        CREATE INDEX chunks_interpretation ON chunks(interpretation_id);
        CREATE TABLE embeddings (
            key TEXT PRIMARY KEY,
            dim INTEGER NOT NULL,
            vector BLOB NOT NULL
        );
        CREATE TABLE state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        INSERT INTO state(key, value) VALUES ('generation', '0');
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT,
            action TEXT NOT NULL,
            target TEXT,
            detail TEXT
        );
        """,
    ),
    (
        # Windows: short overlapping pieces of a long passage, searched on their
        # own and credited to the passage they come from ("small to big").
        "0002_chunk_windows",
        """
        ALTER TABLE chunks ADD COLUMN parent_chunk_id INTEGER REFERENCES chunks(id) ON DELETE CASCADE;
        CREATE INDEX chunks_parent ON chunks(parent_chunk_id);
        """,
    ),
    (
        # The answering bot and its channels: what citizens asked (masked),
        # their feedback, the answers departments give to unanswered questions
        # (FAQ), dialogue state, and the WeChat callback's dedup and token
        # cache, all here so every worker process shares them.
        "0003_bot",
        """
        ALTER TABLE documents ADD COLUMN supersedes TEXT REFERENCES documents(id) ON DELETE SET NULL;
        ALTER TABLE interpretation_sections ADD COLUMN article_id INTEGER REFERENCES articles(id) ON DELETE SET NULL;
        CREATE TABLE faqs (
            id INTEGER PRIMARY KEY,
            document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            question TEXT NOT NULL,
            answer TEXT NOT NULL,
            department TEXT NOT NULL,
            owner_department_id INTEGER REFERENCES departments(id),
            created_at TEXT NOT NULL
        );
        ALTER TABLE chunks ADD COLUMN faq_id INTEGER REFERENCES faqs(id) ON DELETE CASCADE;
        CREATE TABLE questions (
            id TEXT PRIMARY KEY,
            asked_at TEXT NOT NULL,
            day TEXT NOT NULL,
            channel TEXT NOT NULL,
            session_id TEXT,
            question TEXT NOT NULL,
            answered INTEGER NOT NULL,
            reason TEXT,
            document_id TEXT,
            chunk_id INTEGER,
            confidence REAL,
            helpful INTEGER,
            comment TEXT,
            faq_id INTEGER REFERENCES faqs(id) ON DELETE SET NULL
        );
        CREATE INDEX questions_day ON questions(day);
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            updated_at REAL NOT NULL,
            state TEXT NOT NULL
        );
        CREATE TABLE wechat_messages (
            key TEXT PRIMARY KEY,
            openid TEXT NOT NULL,
            received_at REAL NOT NULL,
            status TEXT NOT NULL,
            reply TEXT
        );
        CREATE INDEX wechat_messages_openid ON wechat_messages(openid, received_at);
        CREATE TABLE kv (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            expires_at REAL
        );
        """,
    ),
    (
        # Which parser turned the file into articles (ingest.PARSER_VERSION):
        # the same file ingested again after a parser change is parsed again.
        "0004_parser_version",
        """
        ALTER TABLE documents ADD COLUMN parser TEXT;
        """,
    ),
    (
        # Indexes on the sparse columns (most chunks are not windows and not
        # interpretation passages) cover only the rows that have a value: a
        # full one made the planner walk every top-level chunk to find "the
        # interpretation passages of this document" (40 ms at 50k passages).
        "0005_sparse_indexes",
        """
        DROP INDEX chunks_parent;
        CREATE INDEX chunks_parent ON chunks(parent_chunk_id) WHERE parent_chunk_id IS NOT NULL;
        DROP INDEX chunks_interpretation;
        CREATE INDEX chunks_interpretation ON chunks(interpretation_id) WHERE interpretation_id IS NOT NULL;
        CREATE INDEX chunks_article ON chunks(article_id) WHERE article_id IS NOT NULL;
        CREATE INDEX chunks_faq ON chunks(faq_id) WHERE faq_id IS NOT NULL;
        CREATE INDEX interpretation_sections_interpretation ON interpretation_sections(interpretation_id, ordinal);
        CREATE INDEX faqs_document ON faqs(document_id);
        """,
    ),
]

POSTGRES_ONLY: dict[str, list[str]] = {
    "0001_initial": [
        # SQLite's instr(haystack, needle): 1-based position, 0 when absent.
        "CREATE OR REPLACE FUNCTION instr(haystack text, needle text) RETURNS integer "
        "LANGUAGE sql IMMUTABLE STRICT AS 'SELECT strpos(haystack, needle)'",
    ],
    "0003_bot": [
        # Questions asked in the same second are listed newest first by SQLite's rowid.
        "ALTER TABLE questions ADD COLUMN rowid BIGINT GENERATED ALWAYS AS IDENTITY",
    ],
}
