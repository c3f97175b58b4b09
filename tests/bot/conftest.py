"""A bot over its own copy of the sample corpus (questions and FAQ change its store)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.paths import SAMPLES
from tests.postgres import session_database


@pytest.fixture(scope="module")
def samples_bot(tmp_path_factory: pytest.TempPathFactory, embedder, postgres_server):  # type: ignore[no-untyped-def]
    from bot.service import Bot
    from knowledge.base import KnowledgeBase
    from knowledge.folder import ingest_paths
    from knowledge.retriever import Retriever
    from knowledge.service import KnowledgeService

    with session_database(postgres_server) as url:
        base = KnowledgeBase(Path(tmp_path_factory.mktemp("bot")), embedder, url)
        _, failures = ingest_paths(KnowledgeService(base), [SAMPLES])
        assert not failures, failures
        base.embed_pending()
        yield Bot(base, Retriever(base))
        base.store.close()


@pytest.fixture(scope="module")
def e5_samples_bot(tmp_path_factory: pytest.TempPathFactory, postgres_server):  # type: ignore[no-untyped-def]
    """The same, on the bundled default model: its calibration weighs similarity too."""
    from bot.service import Bot
    from knowledge.base import KnowledgeBase
    from knowledge.embedders import BundledE5Embedder
    from knowledge.folder import ingest_paths
    from knowledge.retriever import Retriever
    from knowledge.service import KnowledgeService

    with session_database(postgres_server) as url:
        base = KnowledgeBase(Path(tmp_path_factory.mktemp("bot-e5")), BundledE5Embedder(), url)
        _, failures = ingest_paths(KnowledgeService(base), [SAMPLES])
        assert not failures, failures
        base.embed_pending()
        yield Bot(base, Retriever(base))
        base.store.close()
