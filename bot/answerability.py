"""Whether the knowledge base answers a question: a learned model instead of one threshold.

The hand calibration (bot/evidence.py) mixes two numbers, idf coverage of the
question's topic words and the raw cosine, and refuses below a threshold. A
near miss defeats it: 公积金贷款最高可以贷多少 finds the loan article of the
provident-fund notice, which covers 公积金 and 贷款 and is close in meaning,
yet holds no ceiling. The model here sees more of the evidence: which words
are missing and how rare they are, whether the asked kind of fact is stated
and whether one sentence holds it with the topic,
how the other candidates fare, what kind of passage it is. Not whether the
document is in force: a repealed notice answers its own year, behind the bot's
warning, and a near miss made by removing a current notice often leaves its
repealed predecessor, which answers too. It is trained by
``bench/train_answerability.py`` on the train halves of the eval sets, with
negatives that look like near misses: each question asked again with the
document that answers it taken out of the knowledge base, again with only the
passages that answer it taken out, and questions asked of a corpus they are
not about. The refusal threshold is chosen by
cross-validation on train; the validation halves only measure. The model
decides only if it beat the hand calibration there (its card's ``default``);
otherwise it ships for `policybot eval` to report beside the calibration.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from bot.evidence import Calibration, Evidence, sentence_support
from knowledge.ranker import KINDS
from knowledge.retriever import Hit

logger = logging.getLogger(__name__)

MODEL_FILE = "answerability_model.txt"
CARD_FILE = "answerability_model.json"
INTENTS = ("who", "when", "amount", "whether", "papers", "steps", "conditions")
FEATURES = (
    "confidence", "coverage", "cosine", "fact_missing", "states_asked", "sentence_coverage", "fact_sentence_coverage",
    "words", "missing", "missing_rarity_max", "missing_rarity_sum",
    "score", "cosine_best", "cosine_gap", "coverage_best", "full_coverage_count", "same_document",
    "kind", "question_length",
    *(f"asks_{name}" for name in INTENTS),
)


@dataclass
class Assessment:
    """The passage the bot would answer from, its evidence, and what it was weighed against."""

    hit: Hit
    evidence: Evidence
    calibration: Calibration
    companion: Hit | None
    words: list[str]
    wanted: set[str]
    topic: list[str]
    weighed: list[tuple[Hit, Evidence]] = field(default_factory=list)


def features(found: Assessment, idf: Any) -> np.ndarray:
    """One row of ``FEATURES``: how well the chosen passage, and the others, support an answer."""
    evidence, hit = found.evidence, found.hit
    # A word no passage holds has the highest idf there is: rarity 1.
    ceiling = max(idf("\x00no-such-term"), 1e-9)
    rarity = [min(1.0, idf(w) / ceiling) for w in evidence.missing]
    cosines = sorted((h.cosine or 0.0 for h, _ in found.weighed), reverse=True) or [0.0]
    coverages = [e.coverage for _, e in found.weighed] or [0.0]
    same = sum(h.document.id == hit.document.id for h, _ in found.weighed)
    row = [
        evidence.confidence(found.calibration), evidence.coverage, evidence.cosine or math.nan,
        float(evidence.fact_missing), float(evidence.states_asked),
        *sentence_support(found.topic, hit.text, idf, found.wanted),
        len(found.topic), len(evidence.missing), max(rarity, default=0.0), sum(rarity),
        hit.score, cosines[0], cosines[0] - (cosines[1] if len(cosines) > 1 else 0.0),
        max(coverages), sum(c >= 0.999 for c in coverages), same,
        KINDS.get(hit.kind, len(KINDS)),
        len(found.words),
        *(float(name in found.wanted) for name in INTENTS),
    ]
    return np.asarray([row], dtype=np.float32)


class AnswerabilityModel:
    """P(the knowledge base answers the question) from an assessment; refuse below ``threshold``."""

    def __init__(self, model_path: Path, card: dict[str, Any]) -> None:
        import lightgbm

        if tuple(card.get("features", ())) != FEATURES:
            raise ValueError(f"{model_path}: its features are not this code's; retrain it with "
                             "bench/train_answerability.py")
        self.booster = lightgbm.Booster(model_file=str(model_path))
        self.threshold = float(card["threshold"])
        self.embedder = card.get("embedder")
        self.card = card

    def probability(self, found: Assessment, idf: Any) -> float:
        """``idf``: the knowledge base's (``kb.lexical.idf``), for how rare the missing words are."""
        return float(self.booster.predict(features(found, idf), num_threads=1)[0])


@lru_cache(maxsize=1)
def _shipped() -> tuple[Path, dict[str, Any]] | None:
    package = resources.files("bot")
    model, card = Path(str(package.joinpath(MODEL_FILE))), Path(str(package.joinpath(CARD_FILE)))
    if not model.is_file() or not card.is_file():
        return None
    return model, json.loads(card.read_text(encoding="utf-8"))


def answerability_for(embedder_name: str, only_default: bool = True) -> AnswerabilityModel | None:
    """The shipped model if it was trained on this embedder's similarities and (unless
    ``only_default`` is false) beat the hand calibration on validation; else None (the hand
    calibration decides)."""
    shipped = _shipped()
    if shipped is None or shipped[1].get("embedder") != embedder_name:
        return None
    if only_default and not shipped[1].get("default", True):
        return None
    try:
        return AnswerabilityModel(*shipped)
    except (ImportError, OSError, ValueError, KeyError) as exc:
        logger.error("answerability model not loaded, refusing by the calibrated threshold: %s", exc)
        return None
