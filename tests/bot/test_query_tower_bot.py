"""The bot with questions embedded by the distilled query encoder (POLICYBOT_QUERY_ENCODER=tower)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.paths import SAMPLES
from tests.postgres import session_database


@pytest.fixture(scope="module")
def tower_bot(tmp_path_factory: pytest.TempPathFactory, postgres_server):  # type: ignore[no-untyped-def]
    from api.app import open_knowledge_base
    from api.config import Settings
    from bot.service import Bot
    from knowledge.folder import ingest_paths
    from knowledge.retriever import Retriever
    from knowledge.service import KnowledgeService

    with session_database(postgres_server) as url:
        settings = Settings(data_dir=Path(tmp_path_factory.mktemp("bot-tower")), database_url=url,
                            query_encoder="tower")
        base = open_knowledge_base(settings)
        _, failures = ingest_paths(KnowledgeService(base), [SAMPLES])
        assert not failures, failures
        base.embed_pending()
        yield Bot(base, Retriever(base), settings)
        base.store.close()


def test_the_tower_has_its_own_refusal_calibration(tower_bot) -> None:  # type: ignore[no-untyped-def]
    from bot.evidence import CALIBRATIONS, DEFAULT_EMBEDDER

    assert tower_bot.kb.embedder.name == DEFAULT_EMBEDDER  # the index is the engine's
    assert tower_bot.kb.embedder.query_name == f"{DEFAULT_EMBEDDER}+tower-0-4-8-11"
    assert tower_bot.calibration is CALIBRATIONS[tower_bot.kb.embedder.query_name]
    assert tower_bot.calibration != CALIBRATIONS[DEFAULT_EMBEDDER]
    assert tower_bot.answerability is None  # the learned model was trained on the engine's cosines


def test_it_answers_with_the_governing_article_and_refuses_what_is_not_there(tower_bot) -> None:  # type: ignore[no-untyped-def]
    answer = tower_bot.ask("失业保险稳岗返还需要企业自己去申请吗？")
    assert answer.answered and "单位无需提出申请" in answer.answer
    assert "青府办发〔2024〕12号" in answer.answer and "起草部门：青川市人民政府办公室" in answer.answer
    refused = tower_bot.ask("出国旅游签证怎么办理？")
    assert not refused.answered and refused.handoff is not None and "12345" in refused.answer
