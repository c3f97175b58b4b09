"""Policybot on a large corpus: the STARD law articles, copied to province size.

../shared/eval/stard/laws holds about 1,250 passages (1,520 chunks). To measure at the sizes a
province runs (50k-100k passages), every law is written ``--copies`` times
into a temporary folder, each copy under its own title (as each city
republishes a provincial rule). Ingest stores every copy; the embedder (the
bundled e5 by default) really embeds the first copy of each passage, and the
other copies reuse that vector, because their text differs only in the
title's copy mark; embedding 50k passages for real takes about 80 minutes on
2 cores, and the embedder's rate is what the first copy measures.

Then ``policybot serve`` runs on that data in its own process (``--workers``
uvicorn workers), and 8 concurrent clients in this process send STARD
questions in three rounds:

- /api/v1/search with questions the server has never seen (its query vectors are computed),
- /api/v1/ask with the same questions again (their query vectors are in the server's cache:
  what a hotline's repeated questions cost),
- /api/v1/ask with other questions, never seen (the cost of a new question).

Prints the machine, ingest figures, p50/p95 per round and the server's peak RSS.

    python bench/bench_scale.py --copies 40 [--clients 8] [--requests 400] [--data DIR]
                                [--workers N --redis redis://127.0.0.1:6379/0] [--query-encoder tower]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
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
            local.client = httpx.Client(base_url=base, timeout=60)
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


def build(data: Path, copies: int, embedder_spec: str) -> dict[str, float]:
    """Ingest ``copies`` copies of the laws into ``data``; the figures, kept beside it for reuse."""
    from knowledge.base import KnowledgeBase
    from knowledge.embedders import make_embedder
    from knowledge.folder import ingest_paths
    from knowledge.service import KnowledgeService

    record = data / "bench_scale.json"
    if record.exists():
        figures = json.loads(record.read_text(encoding="utf-8"))
        if figures["copies"] == copies and figures["embedder"] == embedder_spec:
            print(f"reusing the corpus built in {data}", flush=True)
            return figures  # type: ignore[no-any-return]
        raise SystemExit(f"{data} holds another build ({figures['copies']} copies); give an empty --data")
    embedder = CopyReusingEmbedder(make_embedder(embedder_spec))
    with tempfile.TemporaryDirectory(prefix="policybot-scale-") as tmp:
        corpus = Path(tmp)
        files = write_copies(corpus, copies)
        kb = KnowledgeBase(data, embedder)
        started = time.perf_counter()
        _, failures = ingest_paths(KnowledgeService(kb), [corpus])
        store_s = time.perf_counter() - started
    chunks = len(kb.pending)
    started = time.perf_counter()
    kb.embed_pending()
    index_s = time.perf_counter() - started
    kb.save()
    figures = {"copies": copies, "embedder": embedder_spec, "files": files, "failed": len(failures),
               "passages": kb.passage_count, "chunks": chunks, "index": kb.vectors.kind,
               "store_s": store_s, "index_s": index_s, "embedded": embedder.embedded,
               "embed_s": embedder.embed_s, "build_rss_mb": peak_rss_mb()}
    kb.store.close()
    record.write_text(json.dumps(figures), encoding="utf-8")
    return figures


def rss_kb(pid: int, field: str) -> int:
    """``field`` (VmRSS, VmHWM) of ``pid`` and its children, in KiB; 0 once it has exited."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{current}/task").iterdir():
                pids += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def serve(data: Path, embedder_spec: str, workers: int, redis_url: str | None = None,
          query_encoder: str = "engine") -> tuple[subprocess.Popen, str]:
    """``policybot serve`` on ``data`` in its own process; returns it once /healthz answers."""
    import httpx

    port = free_port()
    env = {**os.environ, "POLICYBOT_DATA_DIR": str(data), "POLICYBOT_EMBEDDER": embedder_spec,
           "POLICYBOT_RATE_LIMIT": "0", "POLICYBOT_QUERY_ENCODER": query_encoder}
    env.pop("POLICYBOT_DATABASE_URL", None)
    env.pop("POLICYBOT_REDIS_URL", None)
    if redis_url:  # what the workers share: query vectors, sessions, rate limits
        env["POLICYBOT_REDIS_URL"] = redis_url
    command = [sys.executable, "-c", "from api.cli import main; main()", "serve", "--port", str(port),
               "--workers", str(workers)]
    log = data / "bench_scale_server.log"  # a file, not a pipe: nobody reads a pipe while the clients run
    with log.open("wb") as sink:
        server = subprocess.Popen(command, cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    while True:
        if server.poll() is not None:
            raise SystemExit(f"policybot serve exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    print(f"server ready in {time.perf_counter() - started:.0f} s ({workers} worker(s)), "
          f"RSS {rss_kb(server.pid, 'VmRSS') / 1024:.0f} MB", flush=True)
    return server, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=33, help="copies of every law (default: %(default)s)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400, help="requests per round")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers of the server")
    parser.add_argument("--embedder", default="e5-small-bundled")
    parser.add_argument("--redis", metavar="URL", help="POLICYBOT_REDIS_URL for the server (e.g. with --workers 2)")
    parser.add_argument("--query-encoder", default="engine", choices=["engine", "tower"],
                        help="POLICYBOT_QUERY_ENCODER of the server: the distilled tower embeds questions 3x cheaper")
    parser.add_argument("--data", type=Path, help="build here and keep it (a later run with the same "
                        "--copies reuses it); default: a temporary directory")
    args = parser.parse_args()

    print(json.dumps(machine(), ensure_ascii=False), flush=True)
    questions = [json.loads(line)["q"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    if 2 * args.requests > len(questions):
        raise SystemExit(f"--requests at most {len(questions) // 2}: the cold /ask round needs unseen questions")
    seen, unseen = questions[:args.requests], questions[args.requests:2 * args.requests]
    with tempfile.TemporaryDirectory(prefix="policybot-scale-data-") as tmp:
        data = args.data or Path(tmp)
        data.mkdir(parents=True, exist_ok=True)
        f = build(data, args.copies, args.embedder)
        chunks, store_s = f["chunks"], f["store_s"]
        print(f"corpus: {f['files']} files ({f['failed']} failed), {f['passages']} passages, {chunks} chunks "
              f"(with windows); vector index {f['index']}", flush=True)
        print(f"ingest: parse+store {store_s:.1f} s = {chunks / store_s:.0f} chunks/s; "
              f"embedder raw {f['embedded'] / f['embed_s']:.1f} texts/s over {f['embedded']} distinct texts "
              f"({f['embed_s']:.0f} s); vectors for all {chunks} chunks in {f['index_s']:.0f} s "
              f"(the rest is FAISS and the vector cache); ingest peak RSS {f['build_rss_mb']:.0f} MB", flush=True)

        server, base = serve(data, args.embedder, args.workers, args.redis, args.query_encoder)
        try:
            load(base, "POST", "/api/v1/ask", [{"question": q} for q in questions[-16:]], 2)  # warm-up
            rounds = {
                "/search, new questions": load(base, "GET", "/api/v1/search", [{"q": q} for q in seen],
                                               args.clients),
                "/ask, the same again": load(base, "POST", "/api/v1/ask", [{"question": q} for q in seen],
                                             args.clients),
                "/ask, new questions": load(base, "POST", "/api/v1/ask", [{"question": q} for q in unseen],
                                            args.clients),
            }
            peak = rss_kb(server.pid, "VmHWM") / 1024
        finally:
            server.terminate()
            server.wait(30)
    for name, figures in rounds.items():
        print(f"{name}: {figures['n']} requests, {args.clients} clients: p50 {figures['p50']:.0f} ms, "
              f"p95 {figures['p95']:.0f} ms, max {figures['max']:.0f} ms, {figures['per_s']:.1f} req/s")
    print(f"server peak RSS ({args.workers} worker(s), summed): {peak:.0f} MB; query encoder {args.query_encoder}"
          f"{', Redis ' + args.redis if args.redis else ''}", flush=True)


if __name__ == "__main__":
    main()
