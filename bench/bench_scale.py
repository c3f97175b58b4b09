"""Policybot on a large corpus: the STARD law articles, copied to province size.

../shared/eval/stard/laws holds about 1,250 passages (1,520 chunks). To measure at the sizes a
province runs (50k-100k passages), every law is written ``--copies`` times
into a temporary folder, each copy under its own title (as each city
republishes a provincial rule). Ingest stores every copy; the embedder (the
bundled e5 by default) really embeds the first copy of each passage, and the
other copies reuse that vector, because their text differs only in the
title's copy mark; embedding 50k passages for real takes about 80 minutes on
2 cores, and the embedder's rate is what the first copy measures.

Then a live uvicorn (one worker) serves the data, and 8 concurrent clients
send the STARD questions to /api/v1/search and /api/v1/ask. Prints the
machine, ingest figures, p50/p95 per endpoint and the peak RSS.

    python bench/bench_scale.py --copies 33 [--clients 8] [--requests 400]
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_knowledge import SHARED, machine, peak_rss_mb  # noqa: E402

LAWS = SHARED / "eval" / "stard" / "laws"
QUESTIONS = SHARED / "eval" / "stard" / "questions.jsonl"
COPY_MARK = re.compile(r"（第\d+市转发本）")


def write_copies(target: Path, copies: int) -> int:
    """``copies`` retitled copies of every law under ``target``; returns the file count."""
    count = 0
    for law in sorted(LAWS.glob("*.txt")):
        title, _, body = law.read_text(encoding="utf-8").partition("\n")
        for n in range(1, copies + 1):
            (target / f"{law.stem}-{n:03d}.txt").write_text(f"{title.strip()}（第{n}市转发本）\n{body}",
                                                           encoding="utf-8")
            count += 1
    return count


class CopyReusingEmbedder:
    """Embeds a passage once for all its copies (the copy mark taken out)."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.name, self.dim, self.max_tokens = inner.name, inner.dim, inner.max_tokens
        self.memo: dict[str, np.ndarray] = {}
        self.embedded = 0
        self.embed_s = 0.0

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        keys = [COPY_MARK.sub("", t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self.memo))
        if missing:
            started = time.perf_counter()
            for key, vector in zip(missing, self.inner.embed_documents(missing)):
                self.memo[key] = vector
            self.embed_s += time.perf_counter() - started
            self.embedded += len(missing)
        return np.stack([self.memo[k] for k in keys]).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load(base: str, method: str, path: str, payloads: list[dict], clients: int) -> dict[str, float]:
    import httpx

    local = threading.local()

    def one(payload: dict) -> float:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base, timeout=30)
        started = time.perf_counter()
        if method == "GET":
            response = local.client.get(path, params=payload)
        else:
            response = local.client.post(path, json=payload)
        elapsed = (time.perf_counter() - started) * 1000
        response.raise_for_status()
        return elapsed

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        times = sorted(pool.map(one, payloads))
    wall = time.perf_counter() - started
    return {"p50": statistics.median(times), "p95": times[int(0.95 * len(times))], "max": times[-1],
            "per_s": len(times) / wall, "n": len(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=33, help="copies of every law (default: %(default)s)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400, help="requests per endpoint")
    parser.add_argument("--embedder", default="e5-small-bundled")
    args = parser.parse_args()

    import uvicorn

    from api.app import create_app
    from api.config import Settings
    from knowledge.base import KnowledgeBase
    from knowledge.embedders import make_embedder
    from knowledge.folder import ingest_paths
    from knowledge.service import KnowledgeService
    from knowledge.vector import configure_threads

    print(json.dumps(machine(), ensure_ascii=False), flush=True)
    configure_threads()
    questions = [json.loads(line)["q"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    questions = [questions[i % len(questions)] for i in range(args.requests)]
    embedder = CopyReusingEmbedder(make_embedder(args.embedder))
    with tempfile.TemporaryDirectory(prefix="policybot-scale-") as tmp:
        corpus, data = Path(tmp) / "corpus", Path(tmp) / "data"
        corpus.mkdir()
        files = write_copies(corpus, args.copies)
        kb = KnowledgeBase(data, embedder)
        started = time.perf_counter()
        _, failures = ingest_paths(KnowledgeService(kb), [corpus])
        store_s = time.perf_counter() - started
        chunks = len(kb.pending)
        started = time.perf_counter()
        kb.embed_pending()
        index_s = time.perf_counter() - started
        raw = embedder.embedded / embedder.embed_s
        print(f"corpus: {files} files ({len(failures)} failed), {kb.passage_count} passages, {chunks} chunks "
              f"(with windows); vector index {kb.vectors.kind}", flush=True)
        print(f"ingest: parse+store {store_s:.1f} s = {chunks / store_s:.0f} chunks/s; "
              f"embedder raw {raw:.1f} texts/s over {embedder.embedded} distinct texts "
              f"({embedder.embed_s:.0f} s); vectors for all {chunks} chunks in {index_s:.0f} s "
              f"(the rest is FAISS and the SQLite vector cache); peak RSS {peak_rss_mb():.0f} MB", flush=True)

        settings = Settings(data_dir=data, embedder=args.embedder, rate_limit=0)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(settings, kb=kb), port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
        load(base, "POST", "/api/v1/ask", [{"question": q} for q in questions[:16]], 2)  # warm-up
        search = load(base, "GET", "/api/v1/search", [{"q": q} for q in questions], args.clients)
        ask = load(base, "POST", "/api/v1/ask", [{"question": q} for q in questions], args.clients)
        server.should_exit = True
        thread.join(30)
        for name, figures in (("/search", search), ("/ask", ask)):
            print(f"{name}: {figures['n']} requests, {args.clients} clients: p50 {figures['p50']:.0f} ms, "
                  f"p95 {figures['p95']:.0f} ms, max {figures['max']:.0f} ms, {figures['per_s']:.1f} req/s")
        print(f"peak RSS (server and clients in one process): {peak_rss_mb():.0f} MB", flush=True)


if __name__ == "__main__":
    main()
