"""The learned ranker: the shipped model loads offline, sees the features it was trained on,
and re-orders the fused candidates of a real knowledge base."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from knowledge import ranker
from knowledge.ranker import FEATURES, LearnedRanker, RankerError, shipped_ranker
from knowledge.retriever import Retriever


@pytest.fixture(scope="module")
def model() -> LearnedRanker:
    loaded = shipped_ranker()
    assert loaded is not None, "knowledge/ranker_model.txt must ship with the package"
    return loaded


def test_shipped_card_names_its_features_embedder_and_figures(model: LearnedRanker) -> None:
    assert tuple(model.card["features"]) == FEATURES
    assert model.embedder == "e5-small-bundled"
    assert model.version and model.version != "unversioned"
    for half in ("train", "val"):
        for system in ("fused", "learned"):
            assert model.card["figures"][half][system]["stard"]["n"] > 100


def test_a_model_for_other_features_is_refused(tmp_path: Path, model: LearnedRanker) -> None:
    package = Path(ranker.__file__).parent
    shutil.copy(package / ranker.MODEL_FILE, tmp_path / "m.txt")
    card = dict(model.card, features=list(FEATURES[:-1]))
    (tmp_path / "m.json").write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(RankerError, match="retrain"):
        LearnedRanker.from_files(tmp_path / "m.txt", tmp_path / "m.json")


def test_article_numbers() -> None:
    assert ranker.article_number("第十二条") == 12
    assert ranker.article_number("第一百零三条之一") == 103
    assert math.isnan(ranker.article_number(None))
    assert math.isnan(ranker.article_number("一、总体要求"))


def test_features_describe_each_candidate(samples_kb) -> None:  # type: ignore[no-untyped-def]
    retriever = Retriever(samples_kb, ranker=None)
    query = "公积金租房提取每月限额是多少"
    candidates = retriever.candidates(query, ranker.POOL)
    assert len(candidates) > 5
    rows = retriever.features(query, candidates)
    assert rows.shape == (len(candidates), len(FEATURES))
    column = {name: rows[:, n] for n, name in enumerate(FEATURES)}
    assert list(column["fused_rank"]) == list(range(len(candidates)))
    assert np.all(np.diff(column["fused"]) <= 1e-6), "candidates come in fused order"
    assert np.all((column["coverage_idf"] >= 0) & (column["coverage_idf"] <= 1))
    # The passage that holds every query word covers it fully; one from another topic does not.
    assert column["coverage_idf"].max() > 0.6
    assert column["coverage_idf"].min() < column["coverage_idf"].max()
    assert np.nanmin(column["cosine_gap"]) == pytest.approx(0.0, abs=1e-6)
    assert set(column["kind"]) <= {0.0, 1.0, 2.0, 3.0}


def test_learned_order_differs_from_fusion_and_scores_descend(samples_kb, model) -> None:  # type: ignore[no-untyped-def]
    fused = Retriever(samples_kb, ranker=None)
    learned = Retriever(samples_kb, ranker=model)
    questions = ["公积金租房提取每月限额", "2025年居民医保什么时候开始交", "失业人员领取失业保险金的条件",
                 "灵活就业人员社保补贴标准", "新生儿参加居民医保需要什么材料", "住房公积金贷款最高额度"]
    changed = 0
    for question in questions:
        hits = learned.search(question, k=5)
        assert hits, question
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True), question
        assert all(0.0 < s < 1.0 for s in scores), "the model's margin is squashed onto (0, 1)"
        changed += [h.chunk_id for h in hits] != [h.chunk_id for h in fused.search(question, k=5)]
    assert changed, "a ranker that never changes the order is not in use"


def test_a_named_document_number_keeps_its_document_first(samples_kb, model) -> None:  # type: ignore[no-untyped-def]
    learned = Retriever(samples_kb, ranker=model)
    numbered = [d for d in samples_kb.store.list_documents() if d.doc_number]
    assert numbered
    document = numbered[0]
    hits = learned.search(f"{document.doc_number}的主要内容", k=3)
    assert hits and all(h.document.id == document.id for h in hits[:1])


def test_another_embedders_knowledge_base_ranks_by_fusion(samples_kb, model) -> None:  # type: ignore[no-untyped-def]
    # The test embedder is MiniLM; the shipped model learned e5's similarities.
    assert samples_kb.embedder.name != model.embedder
    assert Retriever(samples_kb).ranker is None
    assert Retriever(samples_kb, use_dense=False, ranker=model).ranker is None
