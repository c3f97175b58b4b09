"""Exact (flat) against IVF vector search at corpus sizes past the IVF threshold.

Prints the machine, then per size and kind: build time, query p50/p95 on one
thread (unfiltered and with a filter keeping 5% of the vectors), recall@10
against exact search, and the index's size on disk. The vectors are
synthetic, 384-dimensional and grouped around topics (passages cluster by
subject; uniform noise would be IVF's worst case, real text sits between).

    python bench/bench_vector.py [--sizes 50000 100000] [--queries 300]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from knowledge.vector import FaissVectorIndex, configure_threads  # noqa: E402

DIM = 384


def clustered(rows: int, seed: int, clusters: int = 2000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).standard_normal((clusters, DIM))
    v = centres[rng.integers(0, clusters, rows)] + 0.8 * rng.standard_normal((rows, DIM))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def percentile(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def timed_queries(index: FaissVectorIndex, queries: np.ndarray, allowed: np.ndarray | None) -> tuple[list, list]:
    times, results = [], []
    for q in queries:
        started = time.perf_counter()
        hits = index.search(q, 10, allowed_ids=allowed)
        times.append((time.perf_counter() - started) * 1000)
        results.append({i for i, _ in hits})
    return times, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 100_000])
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    configure_threads(1)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}, {platform.system()} {platform.release()}")
    queries = clustered(args.queries, seed=99)
    for size in args.sizes:
        vectors = clustered(size, seed=1)
        ids = np.arange(size, dtype=np.int64)
        allowed = ids[::20]
        exact_results: dict[str, list] = {}
        # IVF grows as flat to the threshold, then is retrained once, as the knowledge base does.
        for kind, threshold in (("flat", 10**12), ("ivf", size)):
            index = FaissVectorIndex(DIM, ivf_threshold=threshold)
            started = time.perf_counter()
            for start in range(0, size, 5000):
                index.add(ids[start:start + 5000], vectors[start:start + 5000])
            build = time.perf_counter() - started
            assert index.kind == kind
            line = [f"{size:>7} {kind:<4} build {build:6.1f}s"]
            for label, filt in (("all", None), ("5%", allowed)):
                times, results = timed_queries(index, queries, filt)
                if kind == "flat":
                    exact_results[label] = results
                recall = statistics.mean(len(a & b) / 10 for a, b in zip(results, exact_results[label]))
                line.append(f"{label}: p50 {percentile(times, .5):5.2f} ms p95 {percentile(times, .95):5.2f} ms "
                            f"recall@10 {recall:.3f}")
            with tempfile.TemporaryDirectory() as tmp:
                index.save(Path(tmp) / "v.faiss", {"embedder": "bench"})
                size_mb = (Path(tmp) / "v.faiss").stat().st_size / 2**20
            line.append(f"file {size_mb:.0f} MB")
            print("  ".join(line), flush=True)


if __name__ == "__main__":
    main()
