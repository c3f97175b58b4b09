"""Optional LLM rephrasing of the extractive answer, through a LangChain chat model.

The model may only reword what was retrieved. Its output is used only when
``bot.quotes.check_rephrasing`` finds every quotation, number and source in
the retrieved text; on an error, a timeout or a failed check the caller keeps
the extractive draft, so the LLM can make an answer plainer but never wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from bot.quotes import check_rephrasing

logger = logging.getLogger(__name__)

__all__ = ["LLMSettings", "Rephraser", "build_messages"]

# The prompt carries the best few passages only: more text is slower and the
# draft was built from these anyway. The check still sees every source.
_MAX_SOURCES = 5
_MAX_SOURCE_CHARS = 1200
# About 1.5 tokens per Chinese character for a 400-character answer, with room.
_MAX_OUTPUT_TOKENS = 800
# Calls that outlive our timeout run on until the client's own timeout ends
# them; a small pool keeps a hung server from piling up threads.
_WORKERS = 4

_SYSTEM_PROMPT = """你是政府政策咨询助手。请把“原答复”改写得更通俗、更简短，方便群众在手机上阅读。必须遵守：
1. 只能使用“参考资料”和“原答复”里的内容，不得补充、推测或编造任何信息。
2. 数字、期限、日期、金额、比例、文号、文件名称和部门名称必须与原文一字不差。
3. 原样引用原文时，必须放在「」或“”中，引号内的文字必须与原文完全一致。
4. 原答复中以“——依据”开头的出处行（文件名称、条款和部门）必须原样保留。
5. 原答复中关于文件已废止、已失效、已被修订或尚未生效的提示必须保留，并放在最前面。
6. 全文不超过400字。
7. 不要写网址、电话号码或参考资料里没有的任何内容。参考资料不足以回答时，直接照抄原答复。
8. 只输出改写后的答复，不要解释，不要使用Markdown。"""


class LLMSettings(Protocol):
    """The settings ``Rephraser.from_settings`` reads (``api.config.Settings`` has them)."""

    @property
    def llm_base_url(self) -> str | None: ...
    @property
    def llm_model(self) -> str | None: ...
    @property
    def llm_api_key(self) -> str | None: ...
    @property
    def llm_timeout(self) -> float: ...


def build_messages(question: str, draft: str, sources: Sequence[str]) -> list[BaseMessage]:
    """The chat prompt: rules as the system message, the material as the user's."""
    passages = "\n".join(
        f"[{i}] {source.strip()[:_MAX_SOURCE_CHARS]}" for i, source in enumerate(sources[:_MAX_SOURCES], start=1)
    )
    material = f"群众的问题：{question.strip()}\n\n参考资料：\n{passages}\n\n原答复：\n{draft.strip()}\n\n请按要求改写原答复。"
    return [SystemMessage(content=_SYSTEM_PROMPT), HumanMessage(content=material)]


class Rephraser:
    """Rewords an extractive answer with a chat model, or declines (None)."""

    def __init__(self, chat_model: BaseChatModel, timeout: float) -> None:
        self._model = chat_model
        self._timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="policybot-llm")

    @classmethod
    def from_settings(cls, settings: LLMSettings) -> Rephraser | None:
        """A rephraser on the OpenAI-compatible server of the settings, or None when none is set."""
        if not (settings.llm_base_url and settings.llm_model):
            if settings.llm_base_url or settings.llm_model:
                logger.warning("LLM disabled: POLICYBOT_LLM_BASE_URL and POLICYBOT_LLM_MODEL must both be set")
            return None
        try:
            from langchain_openai import ChatOpenAI
        except ImportError as e:
            raise RuntimeError(
                "POLICYBOT_LLM_BASE_URL is set but langchain-openai is not installed: pip install 'policybot[llm]'"
            ) from e
        chat_model = ChatOpenAI(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            # Local servers often want no key, but the OpenAI client insists on one.
            api_key=settings.llm_api_key or "none",
            timeout=settings.llm_timeout,
            # A retry could not finish inside the timeout; the draft is the fallback.
            max_retries=0,
            temperature=0,
            max_tokens=_MAX_OUTPUT_TOKENS,
            # Some model names (…codex, o*-pro) switch ChatOpenAI to OpenAI's
            # Responses API, which compatible servers do not implement.
            use_responses_api=False,
        )
        logger.info("LLM rephrasing on; model %s, timeout %.1f s", settings.llm_model, settings.llm_timeout)
        return cls(chat_model, settings.llm_timeout)

    def rephrase(self, question: str, draft: str, sources: list[str]) -> str | None:
        """A plainer wording of ``draft``, or None to keep the draft.

        ``question`` is sent to the model: pass it with personal data masked.
        """
        future: Future[BaseMessage] = self._pool.submit(self._model.invoke, build_messages(question, draft, sources))
        try:
            # The client's timeout bounds each read, not the whole call (a slow
            # trickle of bytes would pass it), so the wall clock is enforced here.
            reply = future.result(timeout=self._timeout)
        except FutureTimeout:
            future.cancel()
            logger.warning("LLM rephrasing timed out after %.1f s; keeping the extractive answer", self._timeout)
            return None
        except Exception as e:  # any client, HTTP or parsing failure: the draft stands
            # The type and status only: error bodies may echo the prompt.
            status = getattr(e, "status_code", None)
            logger.warning("LLM rephrasing failed (%s%s); keeping the extractive answer",
                           type(e).__name__, f", HTTP {status}" if status else "")
            return None
        output = str(reply.text).strip()
        if not output:
            logger.info("LLM rephrasing rejected: empty output")
            return None
        rejection = check_rephrasing(output, draft, sources)
        if rejection is not None:
            # Lengths only: the output may echo the citizen's question or personal data.
            logger.info("LLM rephrasing rejected: %s (draft %d chars, output %d chars, %d sources)",
                        rejection.reason, len(draft), len(output), len(sources))
            return None
        return output

    def close(self) -> None:
        """Stop taking calls; calls still waiting on the server are abandoned."""
        self._pool.shutdown(wait=False, cancel_futures=True)
