"""The `policybot` command line (API.md, CLI section)."""

from __future__ import annotations

import json
import logging
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from api import privacy
from api.config import Settings
from knowledge.base import KnowledgeBase
from knowledge.errors import Invalid
from knowledge.records import STATUS_FILTERS

logger = logging.getLogger("policybot")


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False))


def load_settings() -> Settings:
    """The settings, or one clear line naming the bad variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(f"POLICYBOT_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise click.ClickException(f"配置有误（{problems}），请修改环境变量或 .env 文件。") from exc


def open_kb(settings: Settings) -> KnowledgeBase:
    from api.app import open_knowledge_base
    from knowledge.vector import IndexMismatchError

    try:
        return open_knowledge_base(settings)
    except IndexMismatchError as exc:
        raise click.ClickException(str(exc)) from exc


def embed_with_progress(kb: KnowledgeBase, label: str = "计算向量") -> int:
    pending = len(kb.pending)
    if not pending:
        return 0
    with click.progressbar(length=pending, label=label, file=sys.stderr) as bar:
        last = [0]

        def progress(done: int, total: int) -> None:
            bar.update(done - last[0])
            last[0] = done

        return kb.embed_pending(progress)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail to stderr.")
def main(verbose: bool) -> None:
    """policybot: policy interpretation and citizen Q&A."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    privacy.install()


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--department", help="Drafting department (起草部门) of these documents.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per file.")
@click.option("--no-embed", is_flag=True, help="Store and index lexically only; vectors later.")
def ingest(paths: tuple[Path, ...], department: str | None, as_json: bool, no_embed: bool) -> None:
    """Parse and index files or folders (.txt .docx .pdf .html)."""
    from ingest.readers import SUPPORTED
    from knowledge.folder import FileFailure, ingest_paths, skipped_files
    from knowledge.service import IngestOutcome, KnowledgeService

    kb = open_kb(load_settings())
    service = KnowledgeService(kb)
    actor = kb.store.ensure_department(department) if department else None

    def show(item: IngestOutcome | FileFailure) -> None:
        if as_json:
            echo_json(item.to_json())
        elif isinstance(item, FileFailure):
            click.echo(f"失败  {item.path}: {item.reason}", err=True)
        else:
            top = item.documents[0] if item.documents else None
            name = f"《{top.title}》" + (f"（{top.doc_number}）" if top and top.doc_number else "") if top else ""
            extra = f"，含 {len(item.documents) - 1} 份被转发文件" if len(item.documents) > 1 else ""
            verb = {"added": "新增", "replaced": "更新", "updated": "改元数据", "unchanged": "未变"}[item.action]
            kind = "解读" if item.kind == "interpretation" else "政策"
            click.echo(f"{verb}  {kind} {name} {item.articles} 条 {item.chunks} 段{extra}  ← {item.source}")

    skipped = skipped_files(list(paths))
    kinds = " ".join(sorted(SUPPORTED))
    for path in skipped:  # not failures: a folder may hold notes, question files and the like
        if as_json:
            echo_json({"file": str(path), "action": "skipped", "reason": f"不支持的文件类型（支持 {kinds}）"})
        else:
            click.echo(f"跳过  {path}：不支持的文件类型 {path.suffix or '（无扩展名）'}，支持 {kinds}；"
                       f"如需入库请另存为其中一种格式。", err=True)
    started = time.monotonic()
    outcomes, failures = ingest_paths(service, list(paths), actor, department, show)
    embedded = 0 if no_embed else embed_with_progress(kb)
    if not as_json:
        click.echo(
            f"完成：{len(outcomes)} 个文件（{sum(o.action != 'unchanged' for o in outcomes)} 个有变化），"
            f"{len(failures)} 个失败，{len(skipped)} 个跳过，新计算向量 {embedded} 段，"
            f"用时 {time.monotonic() - started:.1f} 秒。",
            err=True,
        )
    if failures:
        sys.exit(1)


@main.command()
@click.argument("question")
@click.option("--k", default=10, show_default=True, type=click.IntRange(1, 50))
@click.option("--status", default="current", show_default=True, type=click.Choice(STATUS_FILTERS))
@click.option("--department")
@click.option("--doc-number")
@click.option("--json", "as_json", is_flag=True)
def search(question: str, k: int, status: str, department: str | None, doc_number: str | None,
           as_json: bool) -> None:
    """Search passages, best first (same results as GET /api/v1/search)."""
    from api.routes.search import check_query
    from knowledge.retriever import Retriever

    try:
        question = check_query(question)
    except Invalid as exc:
        raise click.ClickException(exc.message) from exc
    kb = open_kb(load_settings())
    hits = Retriever(kb).search(question, k=k, status=status, department=department, doc_number=doc_number)
    if as_json:
        from api.routes.search import search_body

        echo_json(search_body(question, hits))
        return
    if not hits:
        click.echo("没有找到相关内容。")
    for n, hit in enumerate(hits, 1):
        doc = hit.document
        where = " > ".join(hit.article["path"]) if hit.article else ""
        click.echo(f"{n}. [{hit.score:.4f}] 《{doc.title}》{doc.doc_number or ''} {where}")
        click.echo(f"   {hit.text[:160]}")


@main.group()
def departments() -> None:
    """Manage departments and their keys."""


@departments.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="May act for every department.")
@click.option("--json", "as_json", is_flag=True)
def departments_add(name: str, admin: bool, as_json: bool) -> None:
    """Create a department (or add a key to it) and print its key once."""
    from knowledge.store import open_store

    settings = load_settings()
    try:
        _, key = open_store(settings.data_dir, settings.database_url).add_department(name, admin)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        echo_json({"name": name, "key": key})
    else:
        click.echo(f"部门 {name} 的密钥（只显示这一次，请妥善保存）：\n{key}")


@main.command()
@click.argument("question")
@click.option("--session", "session_id", help="Continue a dialogue: the same id as the previous question.")
@click.option("--json", "as_json", is_flag=True)
def ask(question: str, session_id: str | None, as_json: bool) -> None:
    """Answer a question as POST /api/v1/ask does."""
    from bot.service import Bot
    from knowledge.errors import PolicybotError
    from knowledge.retriever import Retriever

    settings = load_settings()
    kb = open_kb(settings)
    bot = Bot(kb, Retriever(kb), settings)
    try:
        answer = bot.ask(question, session_id, channel="api")
    except PolicybotError as exc:
        raise click.ClickException(exc.message) from exc
    if as_json:
        echo_json(answer.to_json())
        return
    click.echo(answer.answer)
    if answer.handoff:
        click.echo(f"（{answer.handoff.message}）")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Worker processes; more than one wants POLICYBOT_DATABASE_URL and POLICYBOT_REDIS_URL.")
def serve(host: str, port: int, workers: int) -> None:
    """Run the web service (API, web pages, WeChat callback)."""
    import uvicorn

    from api.app import create_app

    logging.getLogger().setLevel(logging.INFO)
    settings = load_settings()
    if workers == 1:
        kb = open_kb(settings)  # a bad index or model fails here, in one line, not inside uvicorn
        uvicorn.run(create_app(settings, kb=kb), host=host, port=port)
        return
    if not settings.redis_url:
        logging.getLogger(__name__).warning(
            "%d workers without POLICYBOT_REDIS_URL: each worker keeps its own rate limits", workers)
    # Checked and brought up to date once, in a child process: the workers then start from the
    # saved index instead of each rebuilding it, and this supervisor does not keep a whole
    # knowledge base in memory beside them (700 MB at 50k passages).
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        problem = pool.apply(prepare_index)
    if problem:
        raise click.ClickException(problem)
    # Each worker process builds its own app from the same settings (the environment).
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers)


def prepare_index() -> str | None:
    """Open the knowledge base (syncing its indexes with the store) and save them; the error, if any."""
    try:
        kb = open_kb(load_settings())
    except click.ClickException as exc:
        return exc.message
    kb.save()
    kb.store.close()
    return None


@main.command()
@click.option("--json", "as_json", is_flag=True)
def rebuild(as_json: bool) -> None:
    """Rebuild the search indexes from the database (after changing the embedder)."""
    import shutil

    settings = load_settings()
    shutil.rmtree(settings.data_dir / "index", ignore_errors=True)
    kb = open_kb(settings)
    embedded = embed_with_progress(kb, "重建向量索引")
    summary = {"passages": kb.passage_count, "vectors": len(kb.vectors), "embedded": embedded,
               "embedder": kb.embedder.name}
    echo_json(summary) if as_json else click.echo(f"索引已重建：{summary}")


@main.command("eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--k", default=5, show_default=True, type=click.IntRange(1, 50))
@click.option("--corpus", type=click.Path(exists=True, path_type=Path),
              help="Evaluate over this corpus, ingested into its own data directory.")
@click.option("--baseline/--no-baseline", default=True, show_default=True,
              help="Also report our lexical half alone and plain BM25 on ~300-character pieces.")
@click.option("--answers/--no-answers", default=True, show_default=True,
              help="Also ask the bot every question: answered, fact, cite@1 and refusal rates.")
@click.option("--misses", is_flag=True, help="List the questions with no hit (and wrong answers).")
@click.option("--lines", type=click.Choice(["all", "odd", "even"]), default="all", show_default=True,
              help="Only the odd (1st, 3rd, ...) or even lines: the study and held-out halves of a blind file.")
@click.option("--split", "half", type=click.Choice(["all", "train", "val"]), default="all", show_default=True,
              help="Only the questions of the train or validation half, split by document with a fixed seed.")
@click.option("--json", "as_json", is_flag=True)
def evaluate_command(file: Path, k: int, corpus: Path | None, baseline: bool, answers: bool, misses: bool,
                     lines: str, half: str, as_json: bool) -> None:
    """Run a question file and print hit@1, hit@k, MRR and the answer metrics."""
    from knowledge.evaluation import PlainBM25, evaluate, hit_matches, load_questions, split_questions
    from knowledge.ranker import shipped_ranker
    from knowledge.retriever import Retriever

    # A broken question file should fail in a second, before any model loads or corpus is ingested.
    try:
        questions = load_questions(file)
        for question in questions:
            hit_matches(question)
    except ValueError as exc:
        raise click.ClickException(f"{file}: {exc}" if str(file) not in str(exc) else str(exc)) from exc
    questions = {"all": questions, "odd": questions[0::2], "even": questions[1::2]}[lines]
    settings = load_settings()
    if corpus is not None:
        from knowledge.folder import ingest_paths
        from knowledge.service import KnowledgeService

        name = corpus.resolve().name
        # A throwaway SQLite knowledge base per corpus, never the configured database.
        settings = settings.model_copy(update={"data_dir": settings.data_dir / "eval" / name, "database_url": None})
        kb = open_kb(settings)
        _, failures = ingest_paths(KnowledgeService(kb), [corpus])
        for failure in failures:
            click.echo(f"失败  {failure.path}: {failure.reason}", err=True)
        embed_with_progress(kb)
    else:
        kb = open_kb(settings)
    questions = split_questions(questions, kb, half)
    systems: dict[str, Any] = {"hybrid": Retriever(kb)}
    if baseline:
        # The learned re-ranker beside fusion: whichever of the two is not the default.
        shipped = shipped_ranker()
        if systems["hybrid"].ranker is not None:
            systems["fused"] = Retriever(kb, ranker=None)
        elif shipped is not None and shipped.embedder == kb.embedder.name:
            systems["learned"] = Retriever(kb, ranker=shipped)
        systems["lexical"] = Retriever(kb, use_dense=False)
        systems["bm25"] = PlainBM25(kb)
    report: dict[str, Any] = {"file": str(file), "lines": lines, "split": half, "k": k,
                              "passages": kb.passage_count}
    missed: dict[str, list[str]] = {}
    for label, retriever in systems.items():
        started = time.monotonic()
        search = retriever.search if isinstance(retriever, PlainBM25) else (
            lambda q, n, r=retriever: r.search(q, k=n))
        metrics = evaluate(search, questions, k=k)
        report[label] = {**metrics.as_dict(), "seconds": round(time.monotonic() - started, 1)}
        missed[label] = metrics.misses
    wrong: list[str] = []
    if answers:
        from bot.answerability import answerability_for
        from bot.evaluation import evaluate_answers
        from bot.service import Bot

        bot = Bot(kb, Retriever(kb), settings)
        answer_metrics = evaluate_answers(lambda q: bot.ask(q, channel="api"), questions)
        report["answers"] = answer_metrics.as_dict()
        wrong = answer_metrics.wrong
        # The learned refusal model beside the hand calibration when it is not the default.
        learned = answerability_for(kb.embedder.query_name, only_default=False) if baseline else None
        if learned is not None and bot.answerability is None:
            other = Bot(kb, Retriever(kb), settings, answerability=learned)
            report["answers_learned"] = evaluate_answers(lambda q: other.ask(q, channel="api"), questions).as_dict()
    if as_json:
        echo_json(report)
    else:
        shown_half = "" if half == "all" else f", {half} half"
        click.echo(f"{file}  ({report['passages']} passages{shown_half})")
        for label in systems:
            row = report[label]
            click.echo(f"  {label:7s} n={row['answerable']:4d}  hit@1 {row['hit@1']:.3f}  "
                       f"hit@{k} {row[f'hit@{k}']:.3f}  MRR {row['mrr']:.3f}  ({row['seconds']} s)")
        for label, name in (("answers", "answers"), ("answers_learned", "learned")):
            if label not in report:
                continue
            row = report[label]
            shown = {name: "-" if row[name] is None else f"{row[name]:.3f}"
                     for name in ("answered", "fact", "cite@1", "refusal")}
            click.echo(f"  {name:7s} answered {shown['answered']}  fact {shown['fact']}  cite@1 {shown['cite@1']}  "
                       f"refusal {shown['refusal']}  (p50 {row['p50_ms']} ms)")
    if misses:
        for q in missed["hybrid"]:
            click.echo(f"  miss: {q}", err=True)
        for line in wrong:
            click.echo(f"  {line}", err=True)


from api.wechat.cli import wechat  # noqa: E402  (the group needs `main`'s helpers above)

main.add_command(wechat)

if __name__ == "__main__":
    main()
