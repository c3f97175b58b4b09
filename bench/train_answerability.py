"""Train the answerability model (bot/answerability.py) on the train halves of the eval sets.

Rows, each one question asked of one knowledge base, with what the bot would answer from:
- answerable: a set's answerable questions on their own corpus (label 1);
- near miss: the same questions with every document that answers them taken out
  of the knowledge base (label 0): same vocabulary, same topic, no answer;
- passage miss: the same questions with only the passages that answer them taken
  out (label 0): the rest of the right notice covers the topic, not the asked fact.
  Kept only when the bot's new choice is still in that notice: another document it
  turns to may be a version or 解读 of it that restates the answer;
- out of scope: the sets' questions asked of a corpus they are not about, and
  the sets' own ``unanswerable`` lines (label 0).
Every question keeps the half of its document (``knowledge.evaluation.split_of``);
the model's size and the refusal threshold are chosen by 3-fold cross-validation
over train documents, answerable and refusable rows weighing the same (and every
kind of row in every set the same within them); the validation halves are scored
once, beside the hand calibration's figures, and decide the card's ``default``.

Usage (the corpora ingested first by ``policybot eval --corpus``, as ``make eval`` does):
    POLICYBOT_DATA_DIR=./var python bench/train_answerability.py [--dry-run]
"""

from __future__ import annotations

import hashlib
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import lightgbm  # noqa: E402

from _training import start, write_model  # noqa: E402
from api.app import open_knowledge_base  # noqa: E402
from api.config import Settings  # noqa: E402
from bot import answerability  # noqa: E402
from bot.service import Bot  # noqa: E402
from knowledge.evaluation import document_key, document_texts, hit_matches, load_questions, split_of  # noqa: E402
from knowledge.retriever import Retriever  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
SAMPLES = ROOT / "samples"
FILES = {
    "seeds": (EVAL / "seed_dev.jsonl", "seeds"),
    "ncp": (EVAL / "ncp" / "questions.jsonl", "docs"),
    "stard": (EVAL / "stard" / "questions.jsonl", "laws"),
    "samples": (SAMPLES / "questions.jsonl", "samples"),
    "blind": (SAMPLES / "questions_blind.jsonl", "samples"),
    "blind2": (SAMPLES / "questions_blind2.jsonl", "samples"),
}
# Questions asked of a corpus they are not about: (set, corpus).
ELSEWHERE = [("ncp", "seeds"), ("stard", "seeds"), ("seeds", "laws"), ("samples", "seeds"), ("seeds", "samples"),
             ("ncp", "samples"), ("stard", "samples"), ("blind", "seeds"), ("blind2", "docs")]
# Near misses on the right document: only the passages holding the answer taken out, the
# rest of the notice kept (it covers the topic, not the asked fact). PASSAGE_MISSES=0 leaves them out;
# =all keeps those where the bot turns to another document too (by default they are dropped).
PASSAGE_MISSES = os.environ.get("PASSAGE_MISSES", "same")
if PASSAGE_MISSES not in ("0", "same", "all"):
    sys.exit(f"PASSAGE_MISSES={PASSAGE_MISSES!r}: say 0 (none), same (the default) or all")
CAP = 300  # questions per (set, corpus, kind), drawn with a fixed seed: STARD would outweigh the rest
SEED = 7
GRID = [(leaves, rounds) for leaves in (4, 8) for rounds in (60, 150, 300)]
BASE_PARAMS = {
    "objective": "binary", "learning_rate": 0.05, "min_data_in_leaf": 30, "lambda_l2": 5.0,
    "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "verbose": -1,
    "num_threads": 2, "seed": SEED, "deterministic": True,
}
TOLERANCE = 0.005  # within this of the best balanced rate, the threshold answering most


@dataclass
class Row:
    x: np.ndarray
    label: int
    group: str  # "<set>><corpus> <kind>": every group weighs the same
    key: str
    half: str
    hand: float  # the hand calibration's confidence, to compare
    hand_threshold: float
    # Passage misses only: the bot's new choice is still in the gold's own notice (not a
    # version or 解读 of it elsewhere, which may restate the answer: a label that lies).
    same_notice: bool = True


def sample(items: list, rng: random.Random) -> list:
    return rng.sample(items, CAP) if len(items) > CAP else items


def collect(data_dir: Path) -> tuple[list[Row], str]:
    rng = random.Random(SEED)
    bots: dict[str, tuple[Bot, Retriever]] = {}
    embedder = ""

    def bot_for(corpus: str) -> tuple[Bot, Retriever]:
        nonlocal embedder
        if corpus not in bots:
            kb_dir = data_dir / "eval" / corpus
            if not (kb_dir / "policybot.sqlite3").exists():
                sys.exit(f"{kb_dir} is missing: run `policybot eval <file> --corpus <{corpus}>` first")
            kb = open_knowledge_base(Settings(data_dir=kb_dir))
            retriever = Retriever(kb)
            bots[corpus] = (Bot(kb, retriever, answerability=None), retriever)
            embedder = kb.embedder.name
        return bots[corpus]

    def row(
        bot: Bot, question: str, label: int, group: str, key: str, notice: frozenset[str] = frozenset(),
    ) -> Row | None:
        found = bot.assess(question)
        if found is None:
            return None  # refused before any model is asked: nothing to learn
        return Row(answerability.features(found, bot.kb.lexical.idf)[0], label, group, key, split_of(key),
                   found.evidence.confidence(found.calibration), found.calibration.threshold,
                   not notice or found.hit.document.id in notice)

    rows: list[Row] = []
    keys: dict[str, str] = {}
    for name, (path, corpus) in FILES.items():
        started = time.monotonic()
        bot, retriever = bot_for(corpus)
        kb = bot.kb
        texts = document_texts(kb)
        passages = [i for i in kb.filters if i not in kb.passage_of]
        every = retriever.hits([(i, 0.0) for i in passages])
        questions = sample(load_questions(path), rng)
        for q in questions:
            key = keys.setdefault(q["q"], document_key(q, lambda: texts))
            matches = hit_matches(q)
            if matches is None:
                rows.append(row(bot, q["q"], 0, f"{name}>{corpus} unanswerable", key))
                continue
            rows.append(row(bot, q["q"], 1, f"{name}>{corpus} answerable", key))
            gold = [h for h in every if matches(h)]
            notice = frozenset(h.document.id for h in gold)
            retriever.without = notice
            try:
                rows.append(row(bot, q["q"], 0, f"{name}>{corpus} near miss", key))
            finally:
                retriever.without = frozenset()
            if PASSAGE_MISSES != "0":
                retriever.without_passages = frozenset(h.chunk_id for h in gold)
                try:
                    rows.append(row(bot, q["q"], 0, f"{name}>{corpus} passage miss", key, notice))
                finally:
                    retriever.without_passages = frozenset()
        print(f"  {name:8s} {len(questions):4d} questions on {corpus} ({time.monotonic() - started:.1f} s)",
              file=sys.stderr)
    for name, corpus in ELSEWHERE:
        bot, _ = bot_for(corpus)
        questions = sample([q for q in load_questions(FILES[name][0]) if q["q"] in keys], rng)
        for q in questions:
            rows.append(row(bot, q["q"], 0, f"{name}>{corpus} out of scope", keys[q["q"]]))
        print(f"  {name:8s} {len(questions):4d} questions on {corpus} (out of scope)", file=sys.stderr)
    found = [r for r in rows if r is not None]
    kept = [r for r in found if r.same_notice or PASSAGE_MISSES == "all"]
    print(f"  {len(found) - len(kept)} passage misses answered from another document left out", file=sys.stderr)
    return kept, embedder


def group_weights(rows: list[Row]) -> np.ndarray:
    """Answerable and refusable rows weigh the same in total, and so does every group within each.

    There are three times as many kinds of row to refuse (near misses, unanswerable lines,
    other corpora) as to answer: weighing groups alone would teach the model to refuse.
    """
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.group] = counts.get(r.group, 0) + 1
    groups_of = {label: sum(1 for g in counts if is_answerable(g) == bool(label)) for label in (0, 1)}
    return np.array([len(rows) / 2 / groups_of[r.label] / counts[r.group] for r in rows])


def is_answerable(group: str) -> bool:
    return group.endswith(" answerable")


def fit(rows: list[Row], leaves: int, rounds: int) -> lightgbm.Booster:
    data = lightgbm.Dataset(np.vstack([r.x for r in rows]), np.array([r.label for r in rows]),
                            weight=group_weights(rows), feature_name=list(answerability.FEATURES))
    return lightgbm.train({**BASE_PARAMS, "num_leaves": leaves}, data, num_boost_round=rounds)


def rates(rows: list[Row], p: np.ndarray, threshold: float) -> dict[str, float]:
    """Per group: the answered rate (answerable) or the refusal rate (the rest)."""
    out: dict[str, list[float]] = {}
    for r, value in zip(rows, p):
        right = value >= threshold if r.label else value < threshold
        out.setdefault(r.group, []).append(float(right))
    return {g: float(np.mean(v)) for g, v in sorted(out.items())}


def balanced(rows: list[Row], p: np.ndarray, threshold: float) -> float:
    return class_balanced(rates(rows, p, threshold))


def class_rates(figures: dict[str, float]) -> tuple[float, float]:
    """The mean answered rate over answerable groups and the mean refusal rate over the rest."""
    answered = [v for g, v in figures.items() if is_answerable(g)]
    refused = [v for g, v in figures.items() if not is_answerable(g)]
    return float(np.mean(answered)), float(np.mean(refused))


def class_balanced(figures: dict[str, float]) -> float:
    """The mean of the two ``class_rates``: a plain mean over groups would count refusing
    three times for answering once."""
    return sum(class_rates(figures)) / 2


def best_threshold(rows: list[Row], p: np.ndarray) -> tuple[float, float]:
    """The balanced-best threshold; within TOLERANCE of it, the one answering most."""
    table = [(balanced(rows, p, t), t) for t in np.arange(0.05, 0.95, 0.01)]
    top = max(score for score, _ in table)
    score, threshold = min(((s, t) for s, t in table if s >= top - TOLERANCE), key=lambda item: item[1])
    return round(float(threshold), 2), score


def choose(train: list[Row]) -> tuple[int, int, float, list[dict]]:
    fold = {r.key: int(hashlib.sha256(r.key.encode()).hexdigest(), 16) % 3 for r in train}
    table = []
    for leaves, rounds in GRID:
        p = np.zeros(len(train))
        for f in range(3):
            inner = [r for r in train if fold[r.key] != f]
            held = [n for n, r in enumerate(train) if fold[r.key] == f]
            model = fit(inner, leaves, rounds)
            p[held] = model.predict(np.vstack([train[n].x for n in held]))
        threshold, score = best_threshold(train, p)
        table.append({"num_leaves": leaves, "rounds": rounds, "threshold": threshold, "balanced": round(score, 4)})
        print(f"  cv leaves={leaves} rounds={rounds:3d}  threshold {threshold:.2f}  balanced {score:.4f}",
              file=sys.stderr)
    best = max(table, key=lambda item: item["balanced"])
    return best["num_leaves"], best["rounds"], best["threshold"], table


def show(label: str, figures: dict[str, float]) -> None:
    answered, refused = class_rates(figures)
    print(f"  {label}: balanced {class_balanced(figures):.3f} (answered {answered:.3f}, refused {refused:.3f})")
    for group, value in figures.items():
        kind = "answered" if is_answerable(group) else "refused"
        print(f"    {group:32s} {kind} {value:.3f}")


def main() -> None:
    args, data_dir = start(__doc__)
    rows, embedder = collect(data_dir)
    train = [r for r in rows if r.half == "train"]
    val = [r for r in rows if r.half == "val"]
    print(f"rows: {len(train)} train, {len(val)} validation")
    leaves, rounds, threshold, table = choose(train)
    model = fit(train, leaves, rounds)
    print(f"chosen: num_leaves={leaves}, rounds={rounds}, threshold={threshold}")
    figures = {}
    for half, part in (("train", train), ("val", val)):
        hand = np.array([r.hand - r.hand_threshold for r in part])  # refused below 0
        learned = model.predict(np.vstack([r.x for r in part]))
        figures[half] = {"hand": rates(part, hand, 0.0), "learned": rates(part, learned, threshold)}
        show(f"{half} hand calibration", figures[half]["hand"])
        show(f"{half} learned", figures[half]["learned"])
    # The model decides refusal only if it beats the hand calibration on validation.
    score = {system: class_balanced(figures["val"][system]) for system in ("hand", "learned")}
    default = score["learned"] > score["hand"]
    print(f"validation balanced: hand {score['hand']:.4f}, learned {score['learned']:.4f} -> "
          f"{'the model decides' if default else 'not the default (the hand calibration decides)'}")
    if args.dry_run:
        return
    write_model(model, ROOT / "bot" / answerability.MODEL_FILE, ROOT / "bot" / answerability.CARD_FILE, {
        "embedder": embedder, "features": list(answerability.FEATURES), "threshold": threshold, "default": default,
        "params": {**BASE_PARAMS, "num_leaves": leaves, "rounds": rounds}, "cross_validation": table,
        "split": "by document, knowledge.evaluation.split_of (fixed seed)", "figures": figures,
    })

if __name__ == "__main__":
    main()
