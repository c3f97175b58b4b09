"""What the bot says back: the `/ask` response object of API.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from knowledge.retriever import Hit


@dataclass
class Handoff:
    message: str
    hotline: str

    def to_json(self) -> dict[str, str]:
        return {"message": self.message, "hotline": self.hotline}


@dataclass
class Answer:
    question_id: str
    answered: bool
    answer: str
    citations: list[Hit] = field(default_factory=list)
    handoff: Handoff | None = None
    warnings: list[str] = field(default_factory=list)
    confidence: float = 0.0
    source_line: str = ""  # 《title》(文号) label · department: kept whole when a channel trims the answer

    def to_json(self) -> dict[str, Any]:
        return {
            "question_id": self.question_id,
            "answered": self.answered,
            "answer": self.answer,
            "citations": [h.to_json() for h in self.citations],
            "handoff": self.handoff.to_json() if self.handoff else None,
            "warnings": self.warnings,
            "confidence": round(self.confidence, 4),
            "source_line": self.source_line,
        }
