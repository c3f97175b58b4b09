"""WeChat reply latency: 20 citizens asking at once against a live uvicorn, as the platform sends.

Each simulated citizen sends its questions one after another in AES safe
mode (sealed and signed with wechatpy, as the platform does); the latency is
from sending the request to holding the decrypted reply. A reply slower than
the platform's 5 s would have been retried, and is counted as a timeout.

    python bench/bench_wechat.py [--users 20] [--per-user 10] [--embedder SPEC] [--data-dir DIR]

Without --data-dir the sample corpus is ingested into a temporary directory first.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from bench_knowledge import machine  # noqa: E402
from tests.wechat.wx_sim import AES_KEY, APPID, TOKEN, Platform, new_msg_id, new_openid, text_xml  # noqa: E402

PLATFORM_TIMEOUT = 5.0


def questions() -> list[str]:
    lines = (REPO / "samples" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["q"] for line in lines if line.strip()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--per-user", type=int, default=10)
    parser.add_argument("--embedder", default=os.environ.get("POLICYBOT_EMBEDDER", "e5-small-bundled"))
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()

    env = {**os.environ, "POLICYBOT_EMBEDDER": args.embedder, "POLICYBOT_RATE_LIMIT": "0",
           "POLICYBOT_WECHAT_TOKEN": TOKEN, "POLICYBOT_WECHAT_APPID": APPID, "POLICYBOT_WECHAT_AES_KEY": AES_KEY,
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    env.pop("POLICYBOT_WECHAT_SECRET", None)
    temp = None
    if args.data_dir is None:
        temp = tempfile.TemporaryDirectory(prefix="bench-wechat-")
        args.data_dir = Path(temp.name)
        env["POLICYBOT_DATA_DIR"] = str(args.data_dir)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "api.cli", "ingest", str(REPO / "samples")], cwd=REPO, env=env,
                       check=True, stdout=subprocess.DEVNULL)
        print(f"ingested samples/ in {time.perf_counter() - started:.1f} s")
    env["POLICYBOT_DATA_DIR"] = str(args.data_dir)

    info = machine()
    print("machine:", json.dumps(info, ensure_ascii=False))
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url, server)
        run(url, args.users, args.per_user, args.embedder)
    finally:
        server.terminate()
        server.wait(timeout=30)
        if temp:
            temp.cleanup()


def wait_for(url: str, server: subprocess.Popen[bytes]) -> None:
    end = time.monotonic() + 300
    while time.monotonic() < end:
        if server.poll() is not None:
            raise SystemExit("the server exited during start-up")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("the server did not start")


def run(url: str, users: int, per_user: int, embedder: str) -> None:
    asked = questions()
    platform = Platform("aes")
    # Warm-up: one question loads what a long-running server has loaded.
    with httpx.Client(timeout=60) as client:
        params, body = platform.request(text_xml(new_openid(), asked[0]))
        platform.read(client.post(f"{url}/wechat", params=params, content=body))

    latencies: list[float] = []
    timeouts = errors = 0
    lock = threading.Lock()

    def citizen(index: int) -> None:
        nonlocal timeouts, errors
        openid = new_openid()
        with httpx.Client(timeout=PLATFORM_TIMEOUT) as client:
            for turn in range(per_user):
                question = asked[(index * per_user + turn) % len(asked)]
                params, body = platform.request(text_xml(openid, question, new_msg_id()))
                started = time.perf_counter()
                try:
                    reply = platform.read(client.post(f"{url}/wechat", params=params, content=body))
                except httpx.TimeoutException:
                    with lock:
                        timeouts += 1
                    continue
                elapsed = time.perf_counter() - started
                with lock:
                    if reply.get("MsgType") == "text" and reply.get("Content"):
                        latencies.append(elapsed)
                    else:
                        errors += 1

    wall = time.perf_counter()
    threads = [threading.Thread(target=citizen, args=(i,)) for i in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - wall
    ms = [x * 1000 for x in latencies]
    print(f"embedder: {embedder}; AES safe mode; {users} concurrent users x {per_user} questions")
    print(f"replies: {len(ms)}  timeouts (>{PLATFORM_TIMEOUT:.0f} s): {timeouts}  bad replies: {errors}")
    if ms:
        print(f"latency ms: p50 {percentile(ms, 0.5):.0f}  p90 {percentile(ms, 0.9):.0f}  "
              f"p99 {percentile(ms, 0.99):.0f}  max {max(ms):.0f}  mean {statistics.mean(ms):.0f}")
    print(f"throughput: {len(ms) / wall:.1f} replies/s over {wall:.1f} s")


if __name__ == "__main__":
    main()
