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


def features(data_dir: Path, questions: list[dict], mode: str) -> list[tuple[float, float, bool, bool, bool]]:
    """(coverage, cosine, answerable, first hit right, fact missing, names another place) per question."""
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
            rows.append((0.0, 0.0, matches is not None, False, False, False))
            continue
        weighed = [(h, evidence.weigh(words, h, kb.lexical.idf, intents(q["q"]))) for h in hits[:CONSIDERED]]
        hit, ev = bot._choose(weighed)  # the passage the bot would answer from
        rows.append((ev.coverage, ev.cosine, matches is not None, bool(matches and matches(hit)), ev.fact_missing,
                     bool(bot._foreign_places(q["q"], hit))))  # refused whatever the confidence
    return rows


def confidence(row: tuple, weight: float, floor: float, penalty: float) -> float:
    coverage, cosine, fact_missing = row[0], row[1], row[4]
    if row[5]:
        return -1.0
    dense = min(1.0, max(0.0, (cosine - floor) / (1.0 - floor))) if cosine else 0.0
    return weight * coverage + (1.0 - weight) * dense - (penalty if fact_missing else 0.0)


def main() -> None:
    base = Path(os.environ.get("POLICYBOT_DATA_DIR", "/tmp/pbeval")) / "eval"
    rng = random.Random(7)
    rows = []
    for file, corpus, mode in PAIRS:
        questions = load_questions(file)
        if mode == WITHOUT_OWN:
            questions = [q for q in questions if "docid" in q]
        if len(questions) > SAMPLE:
            questions = rng.sample(questions, SAMPLE)
        got = features(base / corpus, questions, mode)
        print(f"{file.parent.name}/{file.name} over {corpus}: {len(got)} questions ({mode})", flush=True)
        rows += [(*r, f"{file.parent.name}/{file.name}>{corpus}{'-own' if mode == WITHOUT_OWN else ''}")
                 for r in got]
    answerable = [r for r in rows if r[2]]
    outside = [r for r in rows if not r[2]]
    print(f"\n{len(answerable)} answerable, {len(outside)} out of scope; {platform.processor() or platform.machine()}")
    candidates = []
    ok = np.array([r[2] for r in rows])
    masks = [np.array([r[6] == name for r in rows]) for name in dict.fromkeys(r[6] for r in rows)]
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
    for label, setting in (("best", (weight, floor, penalty, threshold)),
                           ("shipped", (shipped.coverage_weight, shipped.cosine_floor, shipped.fact_penalty,
                                        shipped.threshold))):
        a = np.array([confidence(r, *setting[:3]) for r in answerable])
        o = np.array([confidence(r, *setting[:3]) for r in outside])
        print(f"{label}: weight {setting[0]}, floor {setting[1]}, penalty {setting[2]}, threshold {setting[3]:.2f} "
              f"-> answered {(a >= setting[3]).mean():.3f}, refused {(o < setting[3]).mean():.3f}")
        for name in dict.fromkeys(r[6] for r in rows):
            part = [r for r in rows if r[6] == name]
            conf = np.array([confidence(r, *setting[:3]) for r in part])
            ok = np.array([r[2] for r in part])
            print(f"  {name:36s} answered {(conf[ok] >= setting[3]).mean() if ok.any() else float('nan'):.3f}  "
                  f"refused {(conf[~ok] < setting[3]).mean() if (~ok).any() else float('nan'):.3f}")
    print(json.dumps({"answerable": len(answerable), "out_of_scope": len(outside)}))


if __name__ == "__main__":
    main()
