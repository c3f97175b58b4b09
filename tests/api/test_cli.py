"""The `policybot` command line of API.md, run through click's CliRunner
against a real data directory (SQLite, FAISS, MiniLM)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from api.cli import main
from tests.conftest import TEST_EMBEDDER
from tests.paths import SAMPLES
from tests.texts import DIBAO
from tests.postgres import database_for, keep_database, session_database, store_at

CJK = re.compile(r"[\u4e00-\u9fff]")


def run(data_dir: Path, *args: str) -> Result:
    env = {"POLICYBOT_DATA_DIR": str(data_dir), "POLICYBOT_EMBEDDER": TEST_EMBEDDER, "HF_HUB_OFFLINE": "1",
           "POLICYBOT_DATABASE_URL": database_for(data_dir)}
    return CliRunner().invoke(main, list(args), env=env)


def json_lines(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def chunk_count(data_dir: Path, passages_only: bool = False) -> int:
    """Rows in chunks: passages and the windows inside long ones (or passages only)."""
    store = store_at(data_dir)
    where = " WHERE parent_chunk_id IS NULL" if passages_only else ""
    try:
        return int(store.read(f"SELECT count(*) AS n FROM chunks{where}")[0]["n"])
    finally:
        store.close()


@pytest.fixture(scope="module")
def samples_dir(tmp_path_factory: pytest.TempPathFactory, embedder, postgres_server) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The sample corpus ingested once through the CLI (the model is loaded first, so the timing is fair)."""
    data_dir = tmp_path_factory.mktemp("cli") / "data"
    with session_database(postgres_server) as url:
        keep_database(data_dir, url)
        started = time.monotonic()
        result = run(data_dir, "ingest", str(SAMPLES), "--json")
        yield {"data_dir": data_dir, "result": result, "seconds": time.monotonic() - started}


def test_ingest_samples_prints_one_json_line_per_file(samples_dir) -> None:  # type: ignore[no-untyped-def]
    result = samples_dir["result"]
    assert result.exit_code == 0, result.output
    skipped = [line for line in json_lines(result) if line["action"] == "skipped"]
    assert sorted(Path(line["file"]).name for line in skipped) == sorted(
        p.name for p in SAMPLES.iterdir() if p.suffix in {".md", ".jsonl"})  # notes and question files
    lines = [line for line in json_lines(result) if line["action"] != "skipped"]
    by_file = {line["file"]: line for line in lines}
    assert sorted(by_file) == sorted(p.name for p in SAMPLES.iterdir() if p.suffix in {".txt", ".html"})
    assert len(lines) == len(by_file)
    assert {line["action"] for line in lines} == {"added"}
    old = by_file["qcyb-2023-5-medical-insurance.txt"]["documents"][0]
    new = by_file["qcyb-2024-7-medical-insurance.txt"]["documents"][0]
    assert (old["doc_number"], old["status"]) == ("青医保发〔2023〕5号", "repealed")
    assert (new["doc_number"], new["status"]) == ("青医保发〔2024〕7号", "current")

    interp = by_file["qcfb-2024-12-employment-解读.txt"]
    policy = by_file["qcfb-2024-12-employment.txt"]["documents"][0]
    assert interp["kind"] == "interpretation" and interp["interpretation_id"]
    assert interp["documents"][0]["id"] == policy["id"]
    store = store_at(samples_dir["data_dir"])
    try:
        (row,) = store.read("SELECT id, document_id, department FROM interpretations")
        assert (row["id"], row["document_id"]) == (interp["interpretation_id"], policy["id"])
        assert row["department"] == "青川市人力资源和社会保障局"
        assert store.read("SELECT count(*) AS n FROM documents")[0]["n"] == 4
    finally:
        store.close()


def test_ingest_again_changes_nothing_and_is_fast(samples_dir) -> None:  # type: ignore[no-untyped-def]
    data_dir = samples_dir["data_dir"]
    store = store_at(data_dir)
    generation = store.generation()
    store.close()
    started = time.monotonic()
    again = run(data_dir, "ingest", str(SAMPLES), "--json")
    seconds = time.monotonic() - started
    assert again.exit_code == 0, again.output
    lines = [line for line in json_lines(again) if line["action"] != "skipped"]
    assert len(lines) == 5 and {line["action"] for line in lines} == {"unchanged"}
    store = store_at(data_dir)
    assert store.generation() == generation  # not one row written
    store.close()
    assert seconds < samples_dir["seconds"] * 0.6, (seconds, samples_dir["seconds"])


def test_search_prints_the_api_search_object(samples_dir, embedder) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.config import Settings
    from knowledge.base import KnowledgeBase

    data_dir = samples_dir["data_dir"]
    query = "住房公积金租房提取"
    result = run(data_dir, "search", query, "--k", "3", "--json")
    assert result.exit_code == 0, result.output
    (printed,) = json_lines(result)
    assert printed["query"] == query and len(printed["results"]) == 3
    for hit in printed["results"]:
        assert set(hit) == {"chunk_id", "score", "kind", "text", "document", "article", "interpretation"}
        assert hit["document"]["status"] == "current"
    assert any(hit["document"]["doc_number"] == "青建发〔2022〕30号" for hit in printed["results"])
    assert any(hit["article"] and hit["article"]["path"][-1] == hit["article"]["label"] for hit in printed["results"])

    kb = KnowledgeBase(data_dir, embedder, database_for(data_dir))
    app = create_app(Settings(data_dir=data_dir, embedder=TEST_EMBEDDER, rate_limit=0), kb=kb)
    with TestClient(app) as client:
        served = client.get("/api/v1/search", params={"q": query, "k": 3}).json()
    kb.store.close()
    assert printed == served


def test_departments_add_prints_a_working_key(kb, client) -> None:  # type: ignore[no-untyped-def]
    result = run(kb.data_dir, "departments", "add", "青川市民政局", "--json")
    assert result.exit_code == 0, result.output
    (printed,) = json_lines(result)
    assert set(printed) == {"name", "key"} and printed["name"] == "青川市民政局"
    department = kb.store.department_for_key(printed["key"])
    assert department is not None and department.name == "青川市民政局" and not department.is_admin
    uploaded = client.post("/api/v1/documents", headers={"Authorization": f"Bearer {printed['key']}"},
                           files={"file": ("dibao.txt", DIBAO.encode(), "text/plain")})
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["drafting_department"] == "青川市民政局"
    assert kb.store.department_for_key(printed["key"] + "x") is None


def test_ingest_reports_bad_files_and_keeps_the_good_one(tmp_path: Path) -> None:
    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "dibao.txt").write_text(DIBAO, encoding="utf-8")
    (folder / "empty.txt").write_bytes(b"  \n\n")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (folder / "table.xls").write_bytes(b"\xd0\xcf\x11\xe0 not a policy")  # not a type we read: skipped
    data_dir = tmp_path / "data"
    result = run(data_dir, "ingest", str(folder), "--json")
    assert result.exit_code == 1, result.output
    by_name = {Path(line["file"]).name: line for line in json_lines(result)}
    assert set(by_name) == {"dibao.txt", "empty.txt", "binary.txt", "table.xls"}
    assert by_name["dibao.txt"]["action"] == "added" and by_name["table.xls"]["action"] == "skipped"
    for name in ("empty.txt", "binary.txt"):
        failure = by_name[name]
        assert failure["action"] == "failed"
        assert name in failure["error"] and CJK.search(failure["error"]), failure
    store = store_at(data_dir)
    try:
        titles = [r["title"] for r in store.read("SELECT title FROM documents")]
    finally:
        store.close()
    assert titles == ["青川市民政局关于提高城乡最低生活保障标准的通知"]

    plain = run(data_dir, "ingest", str(folder / "empty.txt"))
    assert plain.exit_code == 1
    assert "empty.txt" in plain.stderr and "失败" in plain.stderr


def test_eval_reports_metrics_for_both_systems(samples_dir) -> None:  # type: ignore[no-untyped-def]
    questions = [json.loads(line) for line in (SAMPLES / "questions.jsonl").read_text().splitlines() if line.strip()]
    result = run(samples_dir["data_dir"], "eval", str(SAMPLES / "questions.jsonl"), "--json")
    assert result.exit_code == 0, result.output
    (report,) = json_lines(result)
    assert report["k"] == 5 and report["passages"] == chunk_count(samples_dir["data_dir"], passages_only=True)
    for system in ("hybrid", "bm25"):
        row = report[system]
        assert row["questions"] == len(questions)
        assert row["answerable"] == sum(not q.get("unanswerable") for q in questions)
        for metric in ("hit@1", "hit@5", "mrr"):
            assert 0.0 <= row[metric] <= 1.0
        assert row["hit@1"] <= row["mrr"] <= row["hit@5"]
        assert row["hit@5"] >= 0.5  # the sample questions are easy: a broken index scores near 0
    answers = report["answers"]
    assert answers["answerable"] + answers["unanswerable"] == len(questions)
    for metric in ("answered", "fact", "cite@1", "refusal"):
        assert 0.0 <= answers[metric] <= 1.0
    assert answers["answered"] >= 0.5 and answers["cite@1"] <= answers["answered"]


def test_eval_of_one_half_of_a_file(samples_dir) -> None:  # type: ignore[no-untyped-def]
    questions = [json.loads(line) for line in (SAMPLES / "questions.jsonl").read_text().splitlines() if line.strip()]
    counts = {}
    for half, wanted in (("odd", questions[0::2]), ("even", questions[1::2])):
        result = run(samples_dir["data_dir"], "eval", str(SAMPLES / "questions.jsonl"), "--lines", half,
                     "--no-answers", "--no-baseline", "--json")
        assert result.exit_code == 0, result.output
        (report,) = json_lines(result)
        assert report["lines"] == half and report["hybrid"]["questions"] == len(wanted)
        counts[half] = report["hybrid"]["answerable"]
    assert counts["odd"] + counts["even"] == sum(not q.get("unanswerable") for q in questions)


def test_eval_of_the_train_and_validation_halves(samples_dir) -> None:  # type: ignore[no-untyped-def]
    questions = [json.loads(line) for line in (SAMPLES / "questions_blind2.jsonl").read_text().splitlines()
                 if line.strip()]
    counts = {}
    for half in ("train", "val"):
        result = run(samples_dir["data_dir"], "eval", str(SAMPLES / "questions_blind2.jsonl"), "--split", half,
                     "--no-answers", "--json")
        assert result.exit_code == 0, result.output
        (report,) = json_lines(result)
        assert report["split"] == half
        assert {"hybrid", "lexical", "bm25"} <= set(report)
        assert "learned" not in report, "the shipped re-ranker knows e5's similarities, not the test model's"
        counts[half] = report["hybrid"]["questions"]
        assert 0 < counts[half] < len(questions)
    assert counts["train"] + counts["val"] == len(questions)

def test_ask_prints_the_api_ask_object(samples_dir) -> None:  # type: ignore[no-untyped-def]
    result = run(samples_dir["data_dir"], "ask", "个人创业担保贷款最多能贷多少钱？", "--json")
    assert result.exit_code == 0, result.output
    (body,) = json_lines(result)
    assert body["answered"] is True and "30万元" in body["answer"]
    assert body["citations"][0]["document"]["doc_number"] == "青府办发〔2024〕12号"
    plain = run(samples_dir["data_dir"], "ask", "今天天气怎么样？")
    assert plain.exit_code == 0 and "抱歉" in plain.stdout and "12345" in plain.stdout
    empty = run(samples_dir["data_dir"], "ask", "  ")
    assert empty.exit_code == 1 and "问题不能为空" in empty.stderr


def test_manifest_links_the_successor_of_a_repealed_policy(samples_dir) -> None:  # type: ignore[no-untyped-def]
    store = store_at(samples_dir["data_dir"])
    try:
        rows = store.read("SELECT n.doc_number AS new, o.doc_number AS old, o.status FROM documents n "
                          "JOIN documents o ON o.id = n.supersedes")
    finally:
        store.close()
    assert [(r["new"], r["old"], r["status"]) for r in rows] == [("青医保发〔2024〕7号", "青医保发〔2023〕5号", "repealed")]


@pytest.mark.parametrize(
    ("content", "names"),
    [
        ('{"q": "低保标准", "gold": ["820元"]}\n{"q": "缺了右括号"\n', ":2"),
        ('{"q": "低保标准", "gold": ["820元"]}\n\n["not", "an", "object"]\n', ":3"),
        ('{"q": "没有答案字段的问题"}\n', "没有答案字段的问题"),
    ],
)
def test_eval_of_a_malformed_file_names_the_problem(tmp_path: Path, content: str, names: str) -> None:
    path = tmp_path / "questions.jsonl"
    path.write_text(content, encoding="utf-8")
    result = run(tmp_path / "data", "eval", str(path), "--json")
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a ClickException, not a traceback
    assert result.stderr.startswith("Error: ") and names in result.stderr
    assert str(path) in result.stderr
    assert result.stdout == ""


def test_rebuild_embeds_every_passage(samples_dir) -> None:  # type: ignore[no-untyped-def]
    data_dir = samples_dir["data_dir"]
    result = run(data_dir, "rebuild", "--json")
    assert result.exit_code == 0, result.output
    (summary,) = json_lines(result)
    vectors = chunk_count(data_dir)
    passages = chunk_count(data_dir, passages_only=True)
    assert 0 < passages < vectors  # the samples have long articles, searched as windows too
    assert summary == {"passages": passages, "vectors": vectors, "embedded": vectors, "embedder": TEST_EMBEDDER}
    meta = json.loads((data_dir / "index" / "vectors.faiss.meta.json").read_text(encoding="utf-8"))
    assert meta["count"] == vectors and meta["pending"] == 0 and meta["embedder"] == TEST_EMBEDDER


def test_configuration_and_name_mistakes_are_one_clear_line(tmp_path: Path) -> None:
    bad_env = CliRunner().invoke(main, ["search", "低保"], env={
        "POLICYBOT_DATA_DIR": str(tmp_path), "POLICYBOT_RATE_LIMIT": "abc"})
    assert bad_env.exit_code == 1
    assert "POLICYBOT_RATE_LIMIT" in bad_env.stderr and "Traceback" not in bad_env.output
    blank = run(tmp_path / "data", "departments", "add", "  ")
    assert blank.exit_code == 1 and "部门名称不能为空" in blank.stderr


def test_a_broken_manifest_is_reported_and_the_files_still_go_in(tmp_path: Path) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "dibao.txt").write_text(DIBAO, encoding="utf-8")
    (folder / "manifest.json").write_text("{not json", encoding="utf-8")
    result = run(tmp_path / "data", "ingest", str(folder), "--json", "--no-embed")
    assert result.exit_code == 1
    lines = json_lines(result)
    assert [line["action"] for line in lines] == ["failed", "added"]
    assert "manifest.json" in lines[0]["file"] and "JSON" in lines[0]["error"]


def test_manifest_dates_are_checked_and_unsupported_files_are_reported(tmp_path: Path) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "dibao.txt").write_text(DIBAO, encoding="utf-8")
    (folder / "heating.txt").write_text(DIBAO.replace("低保", "供暖"), encoding="utf-8")
    (folder / "notes.md").write_text("# 备注", encoding="utf-8")
    (folder / "manifest.json").write_text(json.dumps([
        {"file": "dibao.txt", "effective_date": "garbage"},
        {"file": "heating.txt", "effective_date": "2026-01-01", "expiry_date": "2025-01-01"},
    ]), encoding="utf-8")
    result = run(tmp_path / "data", "ingest", str(folder), "--json", "--no-embed")
    assert result.exit_code == 1
    lines = {Path(line["file"]).name: line for line in json_lines(result)}
    assert lines["notes.md"]["action"] == "skipped" and ".txt" in lines["notes.md"]["reason"]
    assert lines["dibao.txt"]["action"] == "failed" and "YYYY-MM-DD" in lines["dibao.txt"]["error"]
    assert lines["heating.txt"]["action"] == "failed" and "早于" in lines["heating.txt"]["error"]
    assert "manifest.json" not in lines


def test_search_checks_the_query_as_the_api_does(tmp_path: Path) -> None:
    for args, said in ((["  "], "不能只有空格"), (["医保" * 300], "500"), (["医保", "--status", "bogus"], "bogus")):
        result = run(tmp_path / "data", "search", *args)
        assert result.exit_code != 0 and said in result.output, args


def _maps(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def _children(pid: int) -> list[int]:
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc (Linux)")
def test_serve_with_workers_keeps_the_model_out_of_the_supervisor(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys

    import httpx

    data = tmp_path / "data"
    assert run(data, "ingest", str(SAMPLES)).exit_code == 0
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "POLICYBOT_DATA_DIR": str(data), "POLICYBOT_EMBEDDER": TEST_EMBEDDER, "HF_HUB_OFFLINE": "1",
           "POLICYBOT_RATE_LIMIT": "0", "POLICYBOT_DATABASE_URL": database_for(data) or ""}
    if not env["POLICYBOT_DATABASE_URL"]:
        del env["POLICYBOT_DATABASE_URL"]
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen([sys.executable, "-c", "from api.cli import main; main()", "serve", "--port",
                               str(port), "--workers", "2"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        base, deadline, ready = f"http://127.0.0.1:{port}", time.monotonic() + 120, 0
        while time.monotonic() < deadline and ready < 2:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            ready = (tmp_path / "serve.log").read_text().count("Application startup complete")
            time.sleep(0.5)
        assert ready == 2, (tmp_path / "serve.log").read_text()
        answer = httpx.post(base + "/api/v1/ask", json={"question": "低保标准是多少"}, timeout=30)
        assert answer.status_code == 200 and answer.json()["citations"]
        workers = _children(server.pid)
        assert len(workers) >= 2
        assert "libtorch" not in _maps(server.pid)  # the supervisor never loaded the model
        assert any("libtorch" in _maps(worker) for worker in workers)  # the workers did
    finally:
        server.terminate()
        server.wait(30)
        log.close()


def test_serve_with_workers_refuses_an_index_of_another_embedder_in_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run(data, "ingest", str(SAMPLES)).exit_code == 0
    meta = data / "index" / "vectors.faiss.meta.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text(encoding="utf-8")), "embedder": "another-model"}),
                    encoding="utf-8")
    result = run(data, "serve", "--workers", "2")
    assert result.exit_code != 0
    assert "another-model" in result.output and "Traceback" not in result.output
