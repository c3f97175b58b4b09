"""Calibrate the bot's refusal threshold on ../shared/eval, never on one question.

Answerable: each set's questions asked of its own corpus. Out of scope: the
same questions asked of a corpus they are not about (ncp's epidemic notices
and STARD's legal questions asked of the seed policies, seed questions asked
of the laws), plus the sets' own ``unanswerable`` lines. For each weight of
coverage against cosine, the threshold that maximises the mean, over (set, corpus) pairs, of the
answered rate on answerable and the refusal rate on out-of-scope questions;
within TOLERANCE of the best, the calibration answering most is chosen.

Usage: POLICYBOT_DATA_DIR=/tmp/pbeval python bench/calibrate_refusal.py
(the corpora must have been ingested there by `policybot eval --corpus`).
"""

from __future__ import annotations

import json
import os
import platform
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.app import open_knowledge_base  # noqa: E402
from api.config import Settings  # noqa: E402
from bot import evidence  # noqa: E402
from bot.text import content_words, intents  # noqa: E402
from knowledge.evaluation import hit_matches, load_questions  # noqa: E402
from bot.service import CONSIDERED, Bot  # noqa: E402
from knowledge.retriever import Retriever  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
SAMPLE = 120  # questions per (set, corpus) pair, drawn with a fixed seed
TOLERANCE = 0.01

# (question file, corpus data dir name, asked of its own corpus?)
PAIRS = [
    (EVAL / "seed_dev.jsonl", "seeds", True),
    (EVAL / "ncp" / "questions.jsonl", "docs", True),
    (EVAL / "stard" / "questions.jsonl", "laws", True),
    (ROOT / "samples" / "questions.jsonl", "samples", True),
    (EVAL / "ncp" / "questions.jsonl", "seeds", False),
    (EVAL / "stard" / "questions.jsonl", "seeds", False),
    (EVAL / "seed_dev.jsonl", "laws", False),
    (ROOT / "samples" / "questions.jsonl", "seeds", False),
    (EVAL / "seed_dev.jsonl", "samples", False),
]


def features(data_dir: Path, questions: list[dict], own: bool) -> list[tuple[float, float, bool, bool]]:
    """(coverage, cosine, answerable, first hit right) per question."""
    settings = Settings(data_dir=data_dir, embedder=os.environ.get("POLICYBOT_EMBEDDER", evidence.DEFAULT_EMBEDDER))
    kb = open_knowledge_base(settings)
    retriever = Retriever(kb)
    bot = Bot(kb, retriever)
    rows = []
    for q in questions:
        matches = hit_matches(q) if own else None
        hits = retriever.search(q["q"], k=CONSIDERED, status="all")
        words = content_words(q["q"], kb.lexical.has_term)
        if not hits or not words:
            rows.append((0.0, 0.0, matches is not None, False, False))
            continue
        weighed = [(h, evidence.weigh(words, h, kb.lexical.idf, intents(q["q"]))) for h in hits[:CONSIDERED]]
        hit, ev = bot._choose(weighed)  # the passage the bot would answer from
        rows.append((ev.coverage, ev.cosine, matches is not None, bool(matches and matches(hit)), ev.fact_missing))
    return rows


def confidence(row: tuple, weight: float, floor: float, penalty: float) -> float:
    coverage, cosine, fact_missing = row[0], row[1], row[4]
    dense = min(1.0, max(0.0, (cosine - floor) / (1.0 - floor))) if cosine else 0.0
    return weight * coverage + (1.0 - weight) * dense - (penalty if fact_missing else 0.0)


def main() -> None:
    base = Path(os.environ.get("POLICYBOT_DATA_DIR", "/tmp/pbeval")) / "eval"
    rng = random.Random(7)
    rows = []
    for file, corpus, own in PAIRS:
        questions = load_questions(file)
        if len(questions) > SAMPLE:
            questions = rng.sample(questions, SAMPLE)
        got = features(base / corpus, questions, own)
        print(f"{file.parent.name}/{file.name} over {corpus}: {len(got)} questions "
              f"({'own corpus' if own else 'out of scope'})", flush=True)
        rows += [(*r, f"{file.parent.name}/{file.name}>{corpus}") for r in got]
    answerable = [r for r in rows if r[2]]
    outside = [r for r in rows if not r[2]]
    print(f"\n{len(answerable)} answerable, {len(outside)} out of scope; {platform.processor() or platform.machine()}")
    candidates = []
    ok = np.array([r[2] for r in rows])
    masks = [np.array([r[5] == name for r in rows]) for name in dict.fromkeys(r[5] for r in rows)]
    weights = [float(w) for w in os.environ.get("WEIGHTS", "0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0").split(",")]
    for weight in weights:
        for floor in (0.7, 0.75, 0.8, 0.85, 0.9):
            for penalty in (0.0, 0.05, 0.1, 0.15, 0.2):
                a = np.array([confidence(r, weight, floor, penalty) for r in answerable])
                o = np.array([confidence(r, weight, floor, penalty) for r in outside])
                conf = np.array([confidence(r, weight, floor, penalty) for r in rows])
                for threshold in np.arange(0.2, 0.8, 0.01):
                    answered, refused = (a >= threshold).mean(), (o < threshold).mean()
                    # Every (set, corpus) pair and kind counts the same, so
                    # STARD's many questions do not decide for the others.
                    rates = [((conf[m & ok] >= threshold).mean() if (m & ok).any() else None,
                              (conf[m & ~ok] < threshold).mean() if (m & ~ok).any() else None)
                             for m in masks]
                    score = float(np.mean([x for pair in rates for x in pair if x is not None]))
                    candidates.append((score, weight, floor, penalty, threshold, answered, refused))
    # Within a point of the best score, answer more: a needless refusal sends a
    # citizen to the hotline, and out-of-scope refusal is near 1 throughout.
    top = max(c[0] for c in candidates)
    best = max((c for c in candidates if c[0] >= top - TOLERANCE), key=lambda c: (c[5], c[0]))
    score, weight, floor, penalty, threshold, answered, refused = best
    print(f"best: weight {weight}, cosine floor {floor}, fact penalty {penalty}, threshold {threshold:.2f} -> "
          f"answered {answered:.3f}, refused {refused:.3f} (mean over pairs {score:.3f})")
    shipped = evidence.calibration_for(os.environ.get("POLICYBOT_EMBEDDER", evidence.DEFAULT_EMBEDDER))
    current = (shipped.coverage_weight, shipped.cosine_floor, shipped.fact_penalty, shipped.threshold)
    a = np.array([confidence(r, *current[:3]) for r in answerable])
    o = np.array([confidence(r, *current[:3]) for r in outside])
    print(f"shipped: weight {current[0]}, floor {current[1]}, penalty {current[2]}, threshold {current[3]} -> "
          f"answered {(a >= current[3]).mean():.3f}, refused {(o < current[3]).mean():.3f}")
    for name in dict.fromkeys(r[5] for r in rows):
        part = [r for r in rows if r[5] == name]
        conf = np.array([confidence(r, *current[:3]) for r in part])
        ok = np.array([r[2] for r in part])
        print(f"  {name:32s} answered {(conf[ok] >= current[3]).mean() if ok.any() else float('nan'):.3f}  "
              f"refused {(conf[~ok] < current[3]).mean() if (~ok).any() else float('nan'):.3f}")
    print(json.dumps({"answerable": len(answerable), "out_of_scope": len(outside)}))


if __name__ == "__main__":
    main()
