"""Latency of POST /api/v1/ask through the real app, without an LLM.

Ingests a corpus (default: the seeds and the sample corpus) with the default
embedder into a temporary directory, then asks every question of the seed and
sample question files through FastAPI's TestClient, a few rounds, one at a
time. Prints the machine, then p50 / p95 / max in milliseconds.

    python bench/bench_ask.py [--embedder SPEC] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_knowledge import SHARED, machine  # noqa: E402
from knowledge.embedders import DEFAULT_EMBEDDER  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", default=DEFAULT_EMBEDDER)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from api.app import create_app, open_knowledge_base
    from api.config import Settings
    from knowledge.evaluation import load_questions
    from knowledge.folder import ingest_paths
    from knowledge.service import KnowledgeService

    print(json.dumps(machine(), ensure_ascii=False))
    questions = [q["q"] for f in (SHARED / "eval" / "seed_dev.jsonl", REPO / "samples" / "questions.jsonl")
                 for q in load_questions(f)]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), embedder=args.embedder, rate_limit=0)
        kb = open_knowledge_base(settings)
        ingest_paths(KnowledgeService(kb), [SHARED / "corpus" / "seeds", REPO / "samples"])
        kb.embed_pending()
        with TestClient(create_app(settings, kb=kb)) as client:
            client.post("/api/v1/ask", json={"question": "预热"})
            timings = []
            for _ in range(args.rounds):
                for question in questions:
                    started = time.perf_counter()
                    response = client.post("/api/v1/ask", json={"question": question})
                    timings.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, response.text
        timings.sort()
        print(f"embedder {args.embedder}; {kb.passage_count} passages; {len(timings)} requests")
        print(f"/ask p50 {statistics.median(timings):.1f} ms  p95 {timings[int(len(timings) * 0.95)]:.1f} ms  "
              f"max {timings[-1]:.1f} ms")


if __name__ == "__main__":
    main()
