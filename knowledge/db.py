"""The two databases the store runs on: SQLite (the embedded default) and PostgreSQL.

The store's SQL is written once, in the dialect both understand (``?``
placeholders, ``INSERT ... ON CONFLICT``, ``RETURNING``). What differs lives
here: how a connection is opened, how a write transaction takes the single
writer's lock, and how the migrations' column types are spelled.

PostgreSQL connections are wrapped to look like ``sqlite3`` ones to the
store: ``execute`` returns a cursor whose rows are read by name or position,
``in_transaction`` says whether a transaction is open.
"""

from __future__ import annotations

import re
import sqlite3
from functools import lru_cache
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

# Every write transaction on PostgreSQL takes this advisory lock first, so
# writers queue as they do on SQLite (BEGIN IMMEDIATE): read-then-write code
# (the generation counter, WeChat dedup, upserts by title) stays correct
# across workers without retry loops.
WRITE_LOCK = 0x706F6C6963  # "polic"
MIGRATION_LOCK = WRITE_LOCK + 1


def is_postgres(location: str | Path) -> bool:
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def describe(location: str | Path) -> str:
    """The location for logs and errors, without a password."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", str(location))


class Row(Sequence[Any]):
    """A result row read by column name or position, like ``sqlite3.Row``."""

    __slots__ = ("_names", "_values")

    def __init__(self, names: dict[str, int], values: tuple[Any, ...]) -> None:
        self._names = names
        self._values = values

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return self._values[self._names[key]]
        return self._values[key]

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        return list(self._names)


def _plain(value: Any) -> Any:
    # numeric results (avg, sums of numerics) as floats, as SQLite gives them
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, memoryview):
        return value.tobytes()
    return value


_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?|%|[^'\"?%]+", re.S)


@lru_cache(maxsize=512)  # the store's statements are a few hundred fixed strings
def to_pyformat(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s``; every literal ``%`` (quoted ones too) as ``%%``.

    A ``?`` inside a quoted literal stays a question mark.
    """
    out = []
    for token in _TOKENS.findall(sql):
        out.append("%s" if token == "?" else token.replace("%", "%%"))
    return "".join(out)


class PgCursor:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor
        names = [column.name for column in cursor.description] if cursor.description else []
        self._names = {name: n for n, name in enumerate(names)}

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)

    def _row(self, values: tuple[Any, ...]) -> Row:
        return Row(self._names, tuple(_plain(v) for v in values))

    def fetchone(self) -> Row | None:
        values = self._cursor.fetchone()
        return None if values is None else self._row(values)

    def fetchall(self) -> list[Row]:
        return [self._row(values) for values in self._cursor.fetchall()]

    def __iter__(self) -> Iterator[Row]:
        return iter(self.fetchall())


class PgConnection:
    """A psycopg connection in autocommit mode; transactions are opened with BEGIN, as on SQLite."""

    def __init__(self, url: str) -> None:
        import psycopg

        self._conn = psycopg.connect(url, autocommit=True)

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return bool(self._conn.info.transaction_status != TransactionStatus.IDLE)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> PgCursor:
        cursor = self._conn.cursor()
        cursor.execute(to_pyformat(sql), tuple(params) if params else None)
        return PgCursor(cursor)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> PgCursor:
        cursor = self._conn.cursor()
        cursor.executemany(to_pyformat(sql), [tuple(r) for r in rows])
        return PgCursor(cursor)

    def close(self) -> None:
        self._conn.close()

    def __del__(self) -> None:  # a store dropped without close() does not leak its server sessions
        try:
            self._conn.close()
        except Exception:  # interpreter shutdown: nothing left to close with
            pass


Connection = sqlite3.Connection | PgConnection


def connect(location: str | Path) -> Connection:
    if is_postgres(location):
        return PgConnection(str(location))
    conn = sqlite3.connect(location, timeout=30, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def begin_write(conn: Connection, lock: int = WRITE_LOCK) -> None:
    """Open a write transaction holding the one writer's lock until it ends."""
    if isinstance(conn, PgConnection):
        conn.execute("BEGIN")
        conn.execute("SELECT pg_advisory_xact_lock(?)", (lock,))
    else:
        conn.execute("BEGIN IMMEDIATE")


# Column types SQLite's migrations use, as PostgreSQL spells them: an integer
# primary key numbers itself; REAL there is 4 bytes, too few for a Unix time.
_PG_TYPES = [
    (re.compile(r"\bINTEGER PRIMARY KEY(?: AUTOINCREMENT)?"), "INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bBLOB\b"), "BYTEA"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
]


def ddl_for(conn: Connection, sql: str) -> str:
    if isinstance(conn, PgConnection):
        for pattern, replacement in _PG_TYPES:
            sql = pattern.sub(replacement, sql)
    return sql
