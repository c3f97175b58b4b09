"""Answer metrics over a question file (API.md's `policybot eval`, issue 3).

- answered: share of answerable questions the bot answers (does not refuse);
- fact: of questions with an ``answer`` field, the share whose answer text
  holds the fact (a list: any of its strings; a text: its first words);
- cite@1: share of answerable questions whose first citation holds a gold passage;
- refusal: share of unanswerable questions the bot refuses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.answer import Answer
from knowledge.evaluation import hit_matches, norm

FACT_START = 12  # characters of a long reference answer the bot's answer must hold


def fact_matches(question: dict[str, Any]) -> Callable[[str], bool] | None:
    reference = question.get("answer")
    if isinstance(reference, list) and reference:
        facts = [norm(str(f)) for f in reference if str(f).strip()]
        return lambda text: any(f in norm(text) for f in facts)
    if isinstance(reference, str) and reference.strip():
        start = norm(reference)[:FACT_START]
        return lambda text: start in norm(text)
    return None


@dataclass
class AnswerMetrics:
    answerable: int = 0
    answered: int = 0
    with_fact: int = 0
    facts: int = 0
    cited: int = 0
    unanswerable: int = 0
    refused: int = 0
    seconds: list[float] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        def rate(a: int, b: int) -> float | None:
            return round(a / b, 4) if b else None

        times = sorted(self.seconds)
        return {
            "answered": rate(self.answered, self.answerable),
            "fact": rate(self.facts, self.with_fact),
            "cite@1": rate(self.cited, self.answerable),
            "refusal": rate(self.refused, self.unanswerable),
            "answerable": self.answerable,
            "unanswerable": self.unanswerable,
            "p50_ms": round(times[len(times) // 2] * 1000, 1) if times else None,
        }


def evaluate_answers(ask: Callable[[str], Answer], questions: Iterable[dict[str, Any]],
                     clock: Callable[[], float] | None = None) -> AnswerMetrics:
    import time

    clock = clock or time.perf_counter
    metrics = AnswerMetrics()
    for question in questions:
        started = clock()
        answer = ask(question["q"])
        metrics.seconds.append(clock() - started)
        matches = hit_matches(question)
        if matches is None:
            metrics.unanswerable += 1
            metrics.refused += not answer.answered
            if answer.answered:
                metrics.wrong.append(f"answered, should refuse: {question['q']}")
            continue
        metrics.answerable += 1
        metrics.answered += answer.answered
        if answer.answered and answer.citations and matches(answer.citations[0]):
            metrics.cited += 1
        fact = fact_matches(question)
        if fact is not None:
            metrics.with_fact += 1
            if answer.answered and fact(answer.answer):
                metrics.facts += 1
            else:
                metrics.wrong.append(f"fact missing: {question['q']}")
        if not answer.answered:
            metrics.wrong.append(f"refused: {question['q']}")
    return metrics
