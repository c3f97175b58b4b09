"""Calibrate the bot's refusal threshold on ../shared/eval, never on one question.

Answerable: each set's questions asked of its own corpus. Out of scope: the
same questions asked of a corpus they are not about (ncp's epidemic notices
and STARD's legal questions asked of the seed policies, seed questions asked
of the laws), the sets' own ``unanswerable`` lines, and near misses: each ncp
question asked of the other 57 notices, without the one that answers it (same
season, same vocabulary, no answer). For each weight of
coverage against cosine, the threshold that maximises the mean, over (set, corpus) pairs, of the
answered rate on answerable and the refusal rate on out-of-scope questions;
within TOLERANCE of the best, the calibration answering most is chosen.

Usage: POLICYBOT_DATA_DIR=/tmp/pbeval python bench/calibrate_refusal.py
(the corpora must have been ingested there by `policybot eval --corpus`).
SPLIT=train keeps only the questions of the train halves
(``knowledge.evaluation.split_of``, each question keyed on its own corpus), so
the calibration can be compared with the learned model on validation.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import random
import sys
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.app import open_knowledge_base  # noqa: E402
from api.config import Settings  # noqa: E402
from bot import evidence  # noqa: E402
from bot.text import content_words, intents  # noqa: E402
from knowledge.evaluation import document_key, document_texts, hit_matches, load_questions, split_of  # noqa: E402
from bot.service import CONSIDERED, Bot  # noqa: E402
from knowledge.retriever import Retriever  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
SAMPLE = 120  # questions per (set, corpus) pair, drawn with a fixed seed
TOLERANCE = 0.01

OWN, OTHER, WITHOUT_OWN = "own corpus", "out of scope", "near miss"
# (question file, corpus data dir name, how it is asked)
PAIRS = [
    (EVAL / "seed_dev.jsonl", "seeds", OWN),
    (EVAL / "ncp" / "questions.jsonl", "docs", OWN),
    (EVAL / "stard" / "questions.jsonl", "laws", OWN),
    (ROOT / "samples" / "questions.jsonl", "samples", OWN),
    (EVAL / "ncp" / "questions.jsonl", "seeds", OTHER),
    (EVAL / "stard" / "questions.jsonl", "seeds", OTHER),
    (EVAL / "seed_dev.jsonl", "laws", OTHER),
    (ROOT / "samples" / "questions.jsonl", "seeds", OTHER),
    (EVAL / "seed_dev.jsonl", "samples", OTHER),
    (EVAL / "ncp" / "questions.jsonl", "docs", WITHOUT_OWN),
]
# The blind held-out files: their odd lines may calibrate (DEV_HALF=1), their
# even lines are never looked at here; they measure the result.
BLIND = (ROOT / "samples" / "questions_blind.jsonl", ROOT / "samples" / "questions_blind2.jsonl")
if os.environ.get("DEV_HALF") or os.environ.get("SPLIT"):  # with SPLIT, their halves by document instead
    PAIRS += [(path, "samples", OWN) for path in BLIND]


class Row(NamedTuple):
    coverage: float
    cosine: float
    answerable: bool
    right: bool  # the passage answered from holds the gold
    fact_missing: bool
    elsewhere: bool  # names a place the documents do not: refused whatever the confidence
    pair: str = ""


def features(data_dir: Path, questions: list[dict], mode: str) -> tuple[list[Row], evidence.Calibration]:
    """The rows of ``questions`` asked of ``data_dir``, and the calibration the bot there ships with."""
    settings = Settings(data_dir=data_dir, embedder=os.environ.get("POLICYBOT_EMBEDDER", evidence.DEFAULT_EMBEDDER))
    kb = open_knowledge_base(settings)
    retriever = Retriever(kb)
    bot = Bot(kb, retriever)
    rows = []
    for q in questions:
        matches = hit_matches(q) if mode == OWN else None
        hits = retriever.search(q["q"], k=CONSIDERED + (20 if mode == WITHOUT_OWN else 0), status="all")
        if mode == WITHOUT_OWN:  # the notice that answers it is taken out of the knowledge base
            hits = [h for h in hits if h.document.source_name != f"{q['docid']}.txt"][:CONSIDERED]
        words = content_words(q["q"], kb.lexical.has_term)
        if not hits or not words:
            rows.append(Row(0.0, 0.0, matches is not None, False, False, False))
            continue
        weighed = [(h, evidence.weigh(words, h, kb.lexical.idf, intents(q["q"]))) for h in hits[:CONSIDERED]]
        hit, ev = bot._choose(weighed)  # the passage the bot would answer from
        rows.append(Row(ev.coverage, ev.cosine, matches is not None, bool(matches and matches(hit)),
                        ev.fact_missing, bool(bot._foreign_places(q["q"], hit))))
    return rows, bot.calibration


def confidence(row: Row, setting: evidence.Calibration) -> float:
    if row.elsewhere:
        return -1.0
    return evidence.Evidence(row.coverage, row.cosine, [], row.fact_missing).confidence(setting)


def report(label: str, setting: evidence.Calibration, rows: list[Row]) -> None:
    conf = np.array([confidence(r, setting) for r in rows])
    ok = np.array([r.answerable for r in rows])
    print(f"{label}: weight {setting.coverage_weight}, floor {setting.cosine_floor}, fact penalty "
          f"{setting.fact_penalty}, threshold {setting.threshold:.2f} -> "
          f"answered {(conf[ok] >= setting.threshold).mean():.3f}, refused {(conf[~ok] < setting.threshold).mean():.3f}")
    for name in dict.fromkeys(r.pair for r in rows):
        mask = np.array([r.pair == name for r in rows])
        answered = (conf[mask & ok] >= setting.threshold).mean() if (mask & ok).any() else float("nan")
        refused = (conf[mask & ~ok] < setting.threshold).mean() if (mask & ~ok).any() else float("nan")
        print(f"  {name:36s} answered {answered:.3f}  refused {refused:.3f}")


@lru_cache(maxsize=None)
def corpus_texts(own_corpus: Path) -> dict[str, str]:
    """``document_texts`` of a corpus, read once however many pairs ask about it."""
    return document_texts(open_knowledge_base(Settings(data_dir=own_corpus)))


def one_half(questions: list[dict], own_corpus: Path, half: str) -> list[dict]:
    """The questions of one half, each keyed on the corpus it is about (not the one asked)."""
    if not half:
        return questions
    return [q for q in questions if split_of(document_key(q, lambda: corpus_texts(own_corpus))) == half]


OWN_CORPUS = {file: corpus for file, corpus, mode in PAIRS if mode == OWN} | {path: "samples" for path in BLIND}


def main() -> None:
    base = Path(os.environ.get("POLICYBOT_DATA_DIR", "/tmp/pbeval")) / "eval"
    half = os.environ.get("SPLIT", "")
    rng = random.Random(7)
    rows: list[Row] = []
    for file, corpus, mode in PAIRS:
        questions = one_half(load_questions(file), base / OWN_CORPUS[file], half)
        if file in BLIND and not half:
            questions = questions[0::2]
        if mode == WITHOUT_OWN:
            questions = [q for q in questions if "docid" in q]
        if len(questions) > SAMPLE:
            questions = rng.sample(questions, SAMPLE)
        got, shipped = features(base / corpus, questions, mode)
        print(f"{file.parent.name}/{file.name} over {corpus}: {len(got)} questions ({mode})", flush=True)
        pair = f"{file.parent.name}/{file.name}>{corpus}{'-own' if mode == WITHOUT_OWN else ''}"
        rows += [r._replace(pair=pair) for r in got]
    ok = np.array([r.answerable for r in rows])
    print(f"\n{ok.sum()} answerable, {(~ok).sum()} out of scope; {platform.processor() or platform.machine()}")
    masks = [np.array([r.pair == name for r in rows]) for name in dict.fromkeys(r.pair for r in rows)]
    weights = [float(w) for w in os.environ.get("WEIGHTS", "0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0").split(",")]
    candidates = []
    for weight in weights:
        for floor in (0.7, 0.75, 0.8, 0.85, 0.9):
            for penalty in (0.0, 0.05, 0.1, 0.15, 0.2):
                setting = evidence.Calibration(weight, floor, penalty, 0.0)
                conf = np.array([confidence(r, setting) for r in rows])
                for threshold in np.arange(0.2, 0.8, 0.01):
                    # Every (set, corpus) pair and kind counts the same, so
                    # STARD's many questions do not decide for the others.
                    rates = [((conf[m & ok] >= threshold).mean() if (m & ok).any() else None,
                              (conf[m & ~ok] < threshold).mean() if (m & ~ok).any() else None)
                             for m in masks]
                    score = float(np.mean([x for pair in rates for x in pair if x is not None]))
                    answered = float((conf[ok] >= threshold).mean())
                    candidates.append((score, answered, setting, round(float(threshold), 2)))
    # Within a point of the best score, answer more: a needless refusal sends a
    # citizen to the hotline, and out-of-scope refusal is near 1 throughout.
    top = max(c[0] for c in candidates)
    score, _, setting, threshold = max((c for c in candidates if c[0] >= top - TOLERANCE), key=lambda c: (c[1], c[0]))
    print(f"mean over pairs of the best: {score:.3f}")
    report("best", dataclasses.replace(setting, threshold=threshold), rows)
    report("shipped", shipped, rows)
    print(json.dumps({"answerable": int(ok.sum()), "out_of_scope": int((~ok).sum())}))


if __name__ == "__main__":
    main()
