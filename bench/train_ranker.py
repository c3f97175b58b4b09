"""Train the learned ranker (knowledge/ranker.py) on the train halves of every eval set.

Each question file is split by document with the fixed seed of
``knowledge.evaluation.split_of``; only the train halves are learned from and
used to choose the model's size (by 3-fold cross-validation over train
documents). The validation halves are scored once, at the end, and reported
beside the fused score's figures on the same questions.

The corpora must have been ingested first by ``policybot eval --corpus``
(``make eval`` does), into ``$POLICYBOT_DATA_DIR/eval/<corpus folder name>``.

Usage:
    POLICYBOT_DATA_DIR=./var python bench/train_ranker.py          # train, report, write the model
    POLICYBOT_DATA_DIR=./var python bench/train_ranker.py --dry-run  # report only
"""

from __future__ import annotations

import hashlib
import json
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
from knowledge import ranker  # noqa: E402
from knowledge.evaluation import (  # noqa: E402
    Metrics, document_key, document_texts, hit_matches, load_questions, split_of,
)
from knowledge.retriever import Retriever  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
# (name, question file, corpus folder name under $POLICYBOT_DATA_DIR/eval)
SETS = [
    ("seeds", EVAL / "seed_dev.jsonl", "seeds"),
    ("ncp", EVAL / "ncp" / "questions.jsonl", "docs"),
    ("stard", EVAL / "stard" / "questions.jsonl", "laws"),
    ("samples", ROOT / "samples" / "questions.jsonl", "samples"),
    ("blind", ROOT / "samples" / "questions_blind.jsonl", "samples"),
    ("blind2", ROOT / "samples" / "questions_blind2.jsonl", "samples"),
]
DEPTH = 10  # as `policybot eval`: MRR counts hits within the first ten
SEED = 7
GRID = [(leaves, rounds) for leaves in (3, 7) for rounds in (50, 150, 300)]
BASE_PARAMS = {
    "objective": "lambdarank", "metric": "ndcg", "ndcg_eval_at": [1, 5], "learning_rate": 0.05,
    "min_data_in_leaf": 50, "lambda_l2": 10.0, "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1,
    "lambdarank_truncation_level": 10, "verbose": -1, "num_threads": 2, "seed": SEED, "deterministic": True,
}


@dataclass
class Group:
    """One question's candidates: feature rows, which hold the answer, its set, document and half."""

    rows: np.ndarray
    labels: np.ndarray
    set_name: str
    key: str
    half: str


def collect(data_dir: Path) -> tuple[list[Group], str]:
    groups: list[Group] = []
    embedder_name = ""
    for name, path, corpus in SETS:
        kb_dir = data_dir / "eval" / corpus
        if not (kb_dir / "policybot.sqlite3").exists():
            sys.exit(f"{kb_dir} is missing: run `policybot eval {path} --corpus <its corpus>` first")
        kb = open_knowledge_base(Settings(data_dir=kb_dir))
        retriever = Retriever(kb, ranker=None)
        embedder_name = kb.embedder.name
        texts: dict[str, str] = {}

        def lookup(kb=kb, texts=texts) -> dict[str, str]:
            if not texts:
                texts.update(document_texts(kb))
            return texts

        started, count = time.monotonic(), 0
        for question in load_questions(path):
            matches = hit_matches(question)
            if matches is None:
                continue
            key = document_key(question, lookup)
            candidates = retriever.candidates(question["q"], ranker.POOL)
            if not candidates:
                continue
            hits = {h.chunk_id: h for h in retriever.hits([(c.chunk_id, c.fused) for c in candidates])}
            labels = np.array([int(c.chunk_id in hits and matches(hits[c.chunk_id])) for c in candidates])
            groups.append(Group(retriever.features(question["q"], candidates), labels, name, key, split_of(key)))
            count += 1
        print(f"  {name:8s} {count:5d} questions  ({time.monotonic() - started:.1f} s)", file=sys.stderr)
    return groups, embedder_name


def order_scores(groups: list[Group], scores: list[np.ndarray]) -> dict[str, Metrics]:
    """Each set's hit@1, hit@5 and MRR when each group is ordered by its scores (ties: fused order)."""
    exact = ranker.FEATURES.index("exact")
    result: dict[str, Metrics] = {}
    for group, score in zip(groups, scores):
        order = sorted(range(len(score)), key=lambda n: (-group.rows[n, exact], -score[n], n))
        ranked = group.labels[order][:DEPTH]
        rank = int(np.argmax(ranked)) + 1 if ranked.any() else None
        result.setdefault(group.set_name, Metrics(k=5)).add(rank, group.key)
    return result


def fused_scores(groups: list[Group]) -> list[np.ndarray]:
    return [g.rows[:, ranker.FEATURES.index("fused")] for g in groups]


def weights_for(groups: list[Group]) -> dict[str, float]:
    """Each set weighs about as much as the others, whatever its size (STARD is 20x the rest)."""
    counts: dict[str, int] = {}
    for g in groups:
        counts[g.set_name] = counts.get(g.set_name, 0) + 1
    mean = sum(counts.values()) / len(counts)
    return {name: min(4.0, (mean / n) ** 0.5) for name, n in counts.items()}


def fit(groups: list[Group], leaves: int, rounds: int) -> lightgbm.Booster:
    useful = [g for g in groups if g.labels.any()]
    weight = weights_for(useful)
    data = lightgbm.Dataset(
        np.vstack([g.rows for g in useful]), np.concatenate([g.labels for g in useful]),
        group=[len(g.labels) for g in useful],
        weight=np.concatenate([np.full(len(g.labels), weight[g.set_name]) for g in useful]),
        feature_name=list(ranker.FEATURES), free_raw_data=False,
    )
    return lightgbm.train({**BASE_PARAMS, "num_leaves": leaves}, data, num_boost_round=rounds)


def predict(model: lightgbm.Booster, groups: list[Group]) -> list[np.ndarray]:
    return [model.predict(g.rows, num_threads=1) for g in groups]


def balanced_hit1(scores: dict[str, Metrics]) -> float:
    """Mean hit@1 over sets: what model selection maximises, so no set dominates."""
    return float(np.mean([m.as_dict()["hit@1"] for m in scores.values()]))


def choose(train: list[Group]) -> tuple[int, int, list[tuple[tuple[int, int], float]]]:
    """The grid point with the best balanced hit@1 over 3 folds of train documents."""
    fold = {g.key: int(hashlib.sha256(g.key.encode()).hexdigest(), 16) % 3 for g in train}
    table = []
    for leaves, rounds in GRID:
        held_scores: list[np.ndarray] = []
        held_groups: list[Group] = []
        for f in range(3):
            inner = [g for g in train if fold[g.key] != f]
            held = [g for g in train if fold[g.key] == f]
            model = fit(inner, leaves, rounds)
            held_groups += held
            held_scores += predict(model, held)
        table.append(((leaves, rounds), balanced_hit1(order_scores(held_groups, held_scores))))
        print(f"  cv leaves={leaves:2d} rounds={rounds:3d}  balanced hit@1 {table[-1][1]:.4f}", file=sys.stderr)
    fused = balanced_hit1(order_scores(train, fused_scores(train)))
    print(f"  cv fused (no model)          balanced hit@1 {fused:.4f}", file=sys.stderr)
    (leaves, rounds), _ = max(table, key=lambda item: item[1])
    return leaves, rounds, table


def report(label: str, groups: list[Group], scores: list[np.ndarray]) -> dict[str, dict[str, float]]:
    out = {}
    for name, metrics in sorted(order_scores(groups, scores).items()):
        row = metrics.as_dict()
        out[name] = {"n": row["answerable"], "hit@1": row["hit@1"], "hit@5": row["hit@5"], "mrr": row["mrr"]}
        print(f"  {label:16s} {name:8s} n={row['answerable']:4d}  hit@1 {row['hit@1']:.3f}  "
              f"hit@5 {row['hit@5']:.3f}  MRR {row['mrr']:.3f}")
    return out


def main() -> None:
    args, data_dir = start(__doc__)
    groups, embedder_name = collect(data_dir)
    train = [g for g in groups if g.half == "train"]
    val = [g for g in groups if g.half == "val"]
    print(f"groups: {len(train)} train, {len(val)} validation")
    leaves, rounds, table = choose(train)
    model = fit(train, leaves, rounds)
    print(f"chosen: num_leaves={leaves}, rounds={rounds}")
    figures = {
        "train": {"fused": report("train fused", train, fused_scores(train)),
                  "learned": report("train learned", train, predict(model, train))},
        "val": {"fused": report("val fused", val, fused_scores(val)),
                "learned": report("val learned", val, predict(model, val))},
    }
    # The model ranks by default only if it beats fusion on validation, on the mean over sets
    # and on STARD (the only set large enough for a point to mean something).
    val = figures["val"]
    mean = {system: float(np.mean([v["hit@1"] for v in val[system].values()])) for system in val}
    default = mean["learned"] > mean["fused"] and val["learned"]["stard"]["hit@1"] >= val["fused"]["stard"]["hit@1"]
    print(f"validation mean hit@1: fused {mean['fused']:.4f}, learned {mean['learned']:.4f} -> "
          f"{'ranks by default' if default else 'not the default (fusion ranks)'}")
    gain = dict(zip(ranker.FEATURES, model.feature_importance("gain").round(1).tolist()))
    print("feature gain:", json.dumps(dict(sorted(gain.items(), key=lambda i: -i[1])), ensure_ascii=False))
    if args.dry_run:
        return
    write_model(model, ROOT / "knowledge" / ranker.MODEL_FILE, ROOT / "knowledge" / ranker.CARD_FILE, {
        "features": list(ranker.FEATURES), "pool": ranker.POOL, "embedder": embedder_name, "default": default,
        "params": {**BASE_PARAMS, "num_leaves": leaves, "rounds": rounds},
        "cross_validation": [{"num_leaves": lv, "rounds": r, "balanced_hit@1": s} for (lv, r), s in table],
        "sets": {name: str(path.relative_to(path.parents[1])) for name, path, _ in SETS},
        "split": "by document, knowledge.evaluation.split_of (fixed seed)",
        "figures": figures, "feature_gain": gain,
    })

if __name__ == "__main__":
    main()
