"""The optional LLM rephraser: the real ChatOpenAI against a fake OpenAI-compatible server.

The fake server is the network edge: a real HTTP server on a free port that
answers POST /v1/chat/completions the way the test tells it to (a reply, an
HTTP 500, a stall, garbage). Everything between it and ``Rephraser`` is the
real langchain-openai and openai client stack.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from langchain_openai import ChatOpenAI

from api.config import Settings
from bot.llm import Rephraser
from bot.quotes import check_rephrasing, source_line

# --- the example: one article, its interpretation, the extractive draft ----------

ARTICLE = (
    "（二）申请人提交的材料齐全、符合法定形式的，受理窗口应当在24小时内出具受理通知书，"
    "并在十五个工作日内作出决定；情况复杂的，经本部门负责人批准，可以延长十日。"
    "（牵头单位：青川市政务服务数据管理局）"
)
INTERPRETATION = (
    "问：这次办理时限有什么变化？\n答：根据国办发〔2018〕23号文件精神，我市将审批时限由原来的"
    "三十个工作日压缩至十五个工作日，压缩比例为50%。咨询电话：0851-86001234。"
)
SOURCES = [ARTICLE, INTERPRETATION]
SOURCE_LINE = (
    "——依据《青川市政务服务事项办理时限管理办法》（青政办发〔2024〕3号）第三条第（二）项 · "
    "起草部门：青川市政务服务数据管理局"
)
DRAFT = (
    "受理窗口应当在24小时内出具受理通知书，并在十五个工作日内作出决定；情况复杂的，可以延长十日。\n"
    + SOURCE_LINE
)
FAITHFUL = (
    "材料齐全的话，窗口会在24小时内给您受理通知书，一般15个工作日内出结果；情况复杂的，最多再延长10天。"
    "原文是：「受理窗口应当在24小时内出具受理通知书」。\n" + SOURCE_LINE
)
# A citizen's question with personal data: it must never reach the logs.
QUESTION = "我叫王小青，手机13912345678，营业执照申请交上去多久能批下来？"


# --- the pure checker ----------------------------------------------------------------


def test_faithful_rephrasing_passes_with_numerals_rewritten() -> None:
    # 十五个工作日 -> 15个工作日 and 十日 -> 10天 are the same quantities.
    assert check_rephrasing(FAITHFUL, DRAFT, SOURCES) is None


def test_full_width_and_spacing_differences_do_not_count() -> None:
    spaced = FAITHFUL.replace("24小时", "２４ 小时").replace("「受理窗口", "「 受理窗口")
    assert check_rephrasing(spaced, DRAFT, SOURCES) is None


@pytest.mark.parametrize(
    ("output", "reason", "span"),
    [
        # A quotation the article never says.
        ("「逾期未作出决定的，视为同意」。\n" + SOURCE_LINE, "quotation not in the sources", "逾期未作出决定的,视为同意"),
        ("他们说“当天就能办好”。\n" + SOURCE_LINE, "quotation not in the sources", "当天就能办好"),
        # A deadline changed: 十五个工作日 became 20.
        ("一般20个工作日内出结果。\n" + SOURCE_LINE, "unknown number", "20个工作日"),
        # The same value with another unit is another deadline (30 calendar days, not working days).
        ("以前要30天，现在快多了。\n" + SOURCE_LINE, "unknown number", "30天"),
        ("压缩比例为60%。\n" + SOURCE_LINE, "unknown number", "60%"),
        ("请在2024年6月30日前提交。\n" + SOURCE_LINE, "unknown date", "2024年6月30日"),
        ("依据第五条，24小时内受理。\n" + SOURCE_LINE, "unknown number", "第五条"),
        # The citizen's own phone number echoed back is not policy.
        ("13912345678您好，24小时内受理。\n" + SOURCE_LINE, "unknown phone number", "13912345678"),
        ("详情请拨打12345或登录www.qingchuan.gov.cn查询。\n" + SOURCE_LINE, "unknown URL", "www.qingchuan.gov.cn"),
        ("根据国办发〔2019〕5号，24小时内受理。\n" + SOURCE_LINE, "unknown doc number", "国办发〔2019〕5号"),
        ("根据《优化营商环境条例》，24小时内受理。\n" + SOURCE_LINE, "unknown title", "优化营商环境条例"),
    ],
)
def test_invented_facts_are_rejected(output: str, reason: str, span: str) -> None:
    rejection = check_rephrasing(output, DRAFT, SOURCES)
    assert rejection is not None
    assert (rejection.reason, rejection.span) == (reason, span)


def test_facts_found_in_any_source_pass() -> None:
    output = (
        "根据国办发〔2018〕23号文件精神，审批时限从“三十个工作日”压缩到十五个工作日，压缩了百分之五十。"
        "咨询电话：0851-86001234。\n" + SOURCE_LINE
    )
    assert check_rephrasing(output, DRAFT, SOURCES) is None


def test_a_quotation_with_an_ellipsis_needs_each_piece_verbatim() -> None:
    kept = "「受理窗口应当在24小时内……作出决定」\n" + SOURCE_LINE
    assert check_rephrasing(kept, DRAFT, SOURCES) is None
    bent = "「受理窗口应当在24小时内……当场作出决定」\n" + SOURCE_LINE
    rejection = check_rephrasing(bent, DRAFT, SOURCES)
    assert rejection is not None and rejection.reason == "quotation not in the sources"


def test_the_source_line_must_keep_its_title_and_department() -> None:
    body = "窗口会在24小时内给您受理通知书，15个工作日内出结果。"
    dropped = check_rephrasing(body, DRAFT, SOURCES)
    assert dropped == check_rephrasing(body + "\n", DRAFT, SOURCES)
    assert dropped is not None and dropped.reason == "source title dropped"
    assert dropped.span == "青川市政务服务事项办理时限管理办法"
    no_department = body + "\n——依据《青川市政务服务事项办理时限管理办法》第三条"
    rejection = check_rephrasing(no_department, DRAFT, SOURCES)
    assert rejection is not None
    assert (rejection.reason, rejection.span) == ("source department dropped", "青川市政务服务数据管理局")


def test_source_line_is_the_last_line_that_names_a_source() -> None:
    assert source_line(DRAFT) == SOURCE_LINE
    assert source_line(DRAFT + "\n\n") == SOURCE_LINE
    assert source_line("没有出处的一句话。") == ""


# The layout bot.compose writes: warnings, the quoted body, the source line, then
# the interpretation passage, which names titles of its own.
REPEALED_LINE = "注意：《青川市城乡居民医疗保险缴费办法》已废止，以下内容仅供了解，不能作为现行政策依据。"
REPEALED_SOURCE = (
    "——依据《青川市城乡居民医疗保险缴费办法》（青医保发〔2023〕5号）第六条；起草部门：青川市医疗保障局、青川市财政局。"
)
REPEALED_DRAFT = "\n".join([
    REPEALED_LINE,
    "个人缴费标准为每人每年380元。",
    REPEALED_SOURCE,
    "【政策解读·青川市医疗保障局】《关于缴费办法的解读》指出，2023年度个人缴费标准为380元。",
])
REPEALED_ARTICLE = "第六条 城乡居民医疗保险个人缴费标准为每人每年380元，由税务部门统一征收。"


def test_the_source_line_is_found_above_an_interpretation_passage() -> None:
    assert source_line(REPEALED_DRAFT) == REPEALED_SOURCE
    kept = REPEALED_LINE + "\n每人每年交380元。\n" + REPEALED_SOURCE
    assert check_rephrasing(kept, REPEALED_DRAFT, [REPEALED_ARTICLE]) is None
    one_department = kept.replace("、青川市财政局", "")
    rejection = check_rephrasing(one_department, REPEALED_DRAFT, [REPEALED_ARTICLE])
    assert rejection is not None
    assert (rejection.reason, rejection.span) == ("source department dropped", "青川市财政局")


def test_a_repeal_warning_cannot_be_dropped() -> None:
    silent = "每人每年交380元。\n" + REPEALED_SOURCE
    rejection = check_rephrasing(silent, REPEALED_DRAFT, [REPEALED_ARTICLE])
    assert rejection is not None
    assert (rejection.reason, rejection.span) == ("status warning dropped", "废止")
    reworded = "提醒：《青川市城乡居民医疗保险缴费办法》已经废止，仅供参考。\n每人每年交380元。\n" + REPEALED_SOURCE
    # The status word and the document it is about are kept; the wording may change.
    assert check_rephrasing(reworded, REPEALED_DRAFT, [REPEALED_ARTICLE]) is None


def test_overlong_output_is_rejected() -> None:
    long_output = "窗口会在24小时内受理。" * 60 + "\n" + SOURCE_LINE
    rejection = check_rephrasing(long_output, DRAFT, SOURCES)
    assert rejection is not None and rejection.reason == "longer than the limit"


# --- the fake OpenAI-compatible server --------------------------------------------------


@dataclass
class FakeLLM:
    """What the server answers next, and what it was asked."""

    url: str = ""
    mode: str = "reply"  # reply | error | stall | garbage
    content: str = ""
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def reply(self, content: str) -> None:
        self.mode, self.content = "reply", content


def _handler(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.requests.append((self.path, body))
            if fake.mode == "stall":
                fake.release.wait(timeout=30)  # until the test is over
            if fake.mode == "error":
                self._send(500, b'{"error": {"message": "model crashed", "type": "server_error"}}')
            elif fake.mode == "garbage":
                self._send(200, b"{'choices': [not json")
            else:
                self._send(200, json.dumps(_completion(body["model"], fake.content)).encode())

        def _send(self, status: int, payload: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up on a stalled call, as it should

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _completion(model: str, content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    fake = FakeLLM()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield fake
    fake.release.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _settings(base_url: str | None, timeout: float = 3.0) -> Settings:
    return Settings(_env_file=None, llm_base_url=base_url, llm_model="qwen2.5-7b-instruct", llm_timeout=timeout)


@pytest.fixture
def rephraser(fake_llm: FakeLLM) -> Iterator[Rephraser]:
    built = Rephraser.from_settings(_settings(fake_llm.url))
    assert built is not None
    yield built
    built.close()


# --- through the network --------------------------------------------------------------


def test_faithful_rephrasing_is_returned(fake_llm: FakeLLM, rephraser: Rephraser) -> None:
    fake_llm.reply(FAITHFUL)
    assert rephraser.rephrase(QUESTION, DRAFT, SOURCES) == FAITHFUL
    [(path, body)] = fake_llm.requests
    assert path == "/v1/chat/completions"
    assert body["model"] == "qwen2.5-7b-instruct" and body["temperature"] == 0
    system, user = body["messages"]
    assert system["role"] == "system" and "「」" in system["content"] and "400字" in system["content"]
    assert ARTICLE in user["content"] and INTERPRETATION in user["content"] and DRAFT in user["content"]


@pytest.mark.parametrize(
    "content",
    [
        "「逾期未作出决定的，视为同意」，您放心。\n" + SOURCE_LINE,  # invented quotation
        "一般20个工作日内出结果。\n" + SOURCE_LINE,  # invented deadline
        "窗口会在24小时内给您受理通知书，15个工作日内出结果。",  # source line dropped
        "   ",  # nothing said
    ],
    ids=["invented-quotation", "invented-deadline", "dropped-source-line", "empty"],
)
def test_unfaithful_rephrasing_keeps_the_draft(
    fake_llm: FakeLLM, rephraser: Rephraser, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    fake_llm.reply(content)
    with caplog.at_level(logging.INFO, logger="bot.llm"):
        assert rephraser.rephrase(QUESTION, DRAFT, SOURCES) is None
    [record] = [r for r in caplog.records if r.name == "bot.llm"]
    assert record.getMessage().startswith("LLM rephrasing rejected")
    # Why, in lengths and a fixed reason: neither the question nor its phone number.
    assert "13912345678" not in caplog.text and "王小青" not in caplog.text
    assert content.strip() == "" or content.splitlines()[0] not in caplog.text


def test_server_error_keeps_the_draft_without_retrying(
    fake_llm: FakeLLM, rephraser: Rephraser, caplog: pytest.LogCaptureFixture
) -> None:
    fake_llm.mode = "error"
    with caplog.at_level(logging.WARNING, logger="bot.llm"):
        assert rephraser.rephrase(QUESTION, DRAFT, SOURCES) is None
    assert len(fake_llm.requests) == 1  # max_retries=0: a retry could not fit in the timeout
    assert "HTTP 500" in caplog.text and "model crashed" not in caplog.text


def test_garbage_response_keeps_the_draft(fake_llm: FakeLLM, rephraser: Rephraser) -> None:
    fake_llm.mode = "garbage"
    assert rephraser.rephrase(QUESTION, DRAFT, SOURCES) is None
    assert len(fake_llm.requests) == 1


def test_stalled_server_times_out_from_settings(fake_llm: FakeLLM) -> None:
    fake_llm.mode = "stall"
    rephraser = Rephraser.from_settings(_settings(fake_llm.url, timeout=0.5))
    assert rephraser is not None
    started = time.monotonic()
    assert rephraser.rephrase(QUESTION, DRAFT, SOURCES) is None
    assert time.monotonic() - started < 0.5 + 0.5
    rephraser.close()


def test_stalled_server_times_out_even_when_the_client_would_wait(fake_llm: FakeLLM) -> None:
    # The client's own timeout is far longer: the rephraser's wall clock must cut it short.
    fake_llm.mode = "stall"
    patient = ChatOpenAI(base_url=fake_llm.url, model="qwen2.5-7b-instruct", api_key="none", timeout=30, max_retries=0)
    rephraser = Rephraser(patient, timeout=0.5)
    started = time.monotonic()
    assert rephraser.rephrase(QUESTION, DRAFT, SOURCES) is None
    assert time.monotonic() - started < 0.5 + 0.5
    rephraser.close()


def test_no_llm_without_base_url_and_model(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("POLICYBOT_LLM_BASE_URL", "POLICYBOT_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)
    assert Rephraser.from_settings(Settings(_env_file=None)) is None
    assert Rephraser.from_settings(_settings(None)) is None
    only_url = Settings(_env_file=None, llm_base_url="http://127.0.0.1:9/v1")
    assert Rephraser.from_settings(only_url) is None


# --- wired into the bot ------------------------------------------------------------------


def test_the_bot_uses_a_checked_rephrasing_and_falls_back_to_its_own_answer(
    fake_llm: FakeLLM, rephraser: Rephraser, samples_bot
) -> None:  # type: ignore[no-untyped-def]
    from bot.service import Bot

    question = "个人创业担保贷款最多能贷多少钱？我的电话13812345678"
    extractive = samples_bot.ask(question).answer
    with_llm = Bot(samples_bot.kb, samples_bot.retriever, rephraser=rephraser)

    fake_llm.reply("您好！" + extractive)
    assert with_llm.ask(question).answer == "您好！" + extractive
    sent = json.dumps(fake_llm.requests[-1][1], ensure_ascii=False)
    assert "13812345678" not in sent and "5678" not in sent  # personal numbers never reach the model

    fake_llm.reply(extractive + "\n另外还可领取9999元创业奖励。")
    assert with_llm.ask(question).answer == extractive


MEDICAL = "（一）2025年度居民医保个人缴费标准为每人每年400元，各级财政补助标准为每人每年不低于670元。"
MEDICAL_SOURCE = "——依据《青川市居民医保参保缴费通知》（青医保发〔2024〕7号）（一）；起草部门：青川市医疗保障局。"
MEDICAL_DRAFT = "2025年度居民医保个人缴费标准为每人每年400元，各级财政补助标准为每人每年不低于670元。\n" + MEDICAL_SOURCE


def test_a_number_moved_to_another_clause_is_rejected() -> None:
    faithful = "2025年度个人每人每年交400元，财政每人每年补助不低于670元。\n" + MEDICAL_SOURCE
    assert check_rephrasing(faithful, MEDICAL_DRAFT, [MEDICAL]) is None
    swapped = "2025年度居民医保个人缴费标准为每人每年670元。\n" + MEDICAL_SOURCE
    rejection = check_rephrasing(swapped, MEDICAL_DRAFT, [MEDICAL])
    assert rejection is not None and rejection.reason == "number moved to another clause"


def test_the_source_line_must_stay_as_it_is() -> None:
    body = "2025年度个人每人每年交400元。\n"
    moved = body + MEDICAL_SOURCE.replace("青医保发〔2024〕7号", "青医保发〔2023〕5号")
    rejection = check_rephrasing(moved, MEDICAL_DRAFT, [MEDICAL, "青医保发〔2023〕5号"])
    assert rejection is not None and rejection.reason == "source line changed"
