"""A throwaway PostgreSQL cluster for the test suite (POLICYBOT_TEST_DATABASE=postgres).

Debian's server binaries (apt-get install postgresql; .ci/run does) run a
cluster of our own in a temporary directory on a free port, with durability
off (the data is thrown away). As root, the server runs as the ``postgres``
user, because PostgreSQL refuses to run as root. Every test gets a fresh
database copied from a template that already has the store's migrations.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

TEMPLATE = "policybot_template"


def server_binaries() -> Path | None:
    """Debian's PostgreSQL server binaries (the newest installed), if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _bindir() -> Path:
    bindir = server_binaries()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql (.ci/run does)")
    return bindir


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Cluster:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="policybot-pg-"))
        self.port = _free_port()
        self.url = f"postgresql://policybot@127.0.0.1:{self.port}/"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def __enter__(self) -> Cluster:
        import psycopg

        if self._as:
            shutil.chown(self.root, "postgres", "postgres")
        bindir, data = _bindir(), self.root / "data"
        self._run(str(bindir / "initdb"), "-D", str(data), "-U", "policybot", "--auth=trust",
                  "-E", "UTF8", "--locale=C.UTF-8")
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=400")
        self._run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(self.root / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")
        with psycopg.connect(self.url + "postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {TEMPLATE}")
        from knowledge.store import Store

        Store(self.url + TEMPLATE).close()  # migrated once; every test database is a copy
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        try:
            self._run(str(_bindir() / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    import psycopg

    name = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(server_url + "postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    try:
        yield server_url + name
    finally:
        with psycopg.connect(server_url + "postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def current_database_url() -> str | None:
    """The current test's database in PostgreSQL mode (conftest sets it per test), else None."""
    return os.environ.get("POLICYBOT_DATABASE_URL")


# Data directories that outlive one test (module fixtures) and so have a database of their own.
_DATABASE_OF: dict[Path, str] = {}


def keep_database(data_dir: Path, url: str | None) -> None:
    if url is not None:
        _DATABASE_OF[data_dir] = url


def database_for(data_dir: Path) -> str | None:
    """The database a knowledge base in ``data_dir`` uses in this test (None: SQLite in the directory)."""
    return _DATABASE_OF.get(data_dir) or current_database_url()


def store_at(data_dir: Path):  # type: ignore[no-untyped-def]
    """The store a knowledge base in ``data_dir`` uses in this test."""
    from knowledge.store import open_store

    return open_store(data_dir, database_for(data_dir))


@contextmanager
def session_database(server_url: str | None) -> Iterator[str | None]:
    """For session-scoped knowledge bases: a database of their own in PostgreSQL mode."""
    if server_url is None:
        yield None
        return
    with fresh_database(server_url) as url:
        yield url


def copy_database(store) -> str:  # type: ignore[no-untyped-def]
    """A copy of a PostgreSQL store's database (its connections are closed first); the copy's URL."""
    import psycopg

    server_url, _, source = str(store.path).rpartition("/")
    name = "t_" + uuid.uuid4().hex[:16]
    store.close()  # a template must have no connections; the store reconnects when next used
    with psycopg.connect(server_url + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {source}")
    return f"{server_url}/{name}"
