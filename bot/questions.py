"""The question log: every question (masked), its outcome and its feedback.

Feeds the unanswered queue (refused or marked unhelpful, grouped by similar
wording) and the statistics departments see.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from bot.text import normalize, place_names
from knowledge.errors import NotFound
from knowledge.privacy import mask
from knowledge.records import Department
from knowledge.store import Store

GROUP_SIMILARITY = 0.5  # character-bigram Jaccard at which two questions count as one
# Greetings and small talk are logged but are not questions for departments or statistics.
QUESTIONS_ONLY = "coalesce(q.reason, '') != 'not_a_question'"
# A department's own documents (joined as `d`): those it uploaded or drafted, as for editing.
OWN_DOCUMENT = "(d.owner_department_id = ? OR d.drafting_department = ?)"
# Days are counted in China Standard Time, the governments' own day.
CST = timezone(timedelta(hours=8))


def _bigrams(text: str) -> set[str]:
    flat = "".join(ch for ch in normalize(text) if ch.isalnum())
    return {flat[i:i + 2] for i in range(len(flat) - 1)} or {flat}


def similarity(a: str, b: str, local: Callable[[str], bool] | None = None) -> float:
    """How alike two wordings are; questions about different places are different questions
    (places ``local`` says the knowledge base is about, such as 青川市, do not count)."""
    def elsewhere(text: str) -> set[str]:
        return {p for p in place_names(text) if not (local and local(p))}

    if elsewhere(a) != elsewhere(b):
        return 0.0
    x, y = _bigrams(a), _bigrams(b)
    return len(x & y) / len(x | y) if x | y else 0.0


class QuestionLog:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._places: dict[str, bool] = {}
        self._places_generation = -1

    def _forget_places_if_changed(self) -> None:
        generation = self.store.generation()
        if generation != self._places_generation:  # documents came or went
            self._places, self._places_generation = {}, generation

    def _local(self, place: str) -> bool:
        """Whether the knowledge base's documents name this place (so it is no other city)."""
        if place not in self._places:
            stem = place.rstrip("省市县区州")
            self._places[place] = bool(self.store.read(
                "SELECT 1 FROM documents WHERE instr(title, ?) > 0 OR instr(issuers, ?) > 0 LIMIT 1", (stem, stem)))
        return self._places[place]

    def record(
        self, question: str, channel: str, session_id: str | None, answered: bool, reason: str | None,
        document_id: str | None, chunk_id: int | None, confidence: float,
    ) -> str:
        question_id = uuid.uuid4().hex
        stamp = datetime.now(CST)
        with self.store.write(bump=False) as conn:
            conn.execute(
                "INSERT INTO questions(id, asked_at, day, channel, session_id, question, answered, reason, "
                "document_id, chunk_id, confidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (question_id, stamp.isoformat(timespec="seconds"), stamp.date().isoformat(), channel,
                 session_id, mask(question), int(answered), reason, document_id, chunk_id, confidence),
            )
        return question_id

    def feedback(self, question_id: str, helpful: bool, comment: str | None) -> None:
        with self.store.write(bump=False) as conn:
            cur = conn.execute(
                "UPDATE questions SET helpful = ?, comment = ? WHERE id = ?",
                (int(helpful), mask(comment) if comment else None, question_id),
            )
            if cur.rowcount == 0:
                raise NotFound(f"找不到问题 {question_id}；请使用 /api/v1/ask 返回的 question_id。")

    def resolve(self, question_ids: list[str], faq_id: int, department: Department | None = None) -> int:
        """Mark queued questions answered by a FAQ: only those in the department's own queue."""
        visible = {q["question_id"] for g in self.unanswered(department, limit=5000) for q in g["questions"]}
        chosen = [q for q in question_ids if q in visible]
        if chosen:
            with self.store.write(bump=False) as conn:
                conn.executemany("UPDATE questions SET faq_id = ? WHERE id = ?", [(faq_id, q) for q in chosen])
        return len(chosen)

    def unanswered(self, department: Department | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Refused or unhelpful questions not yet answered by a FAQ, grouped, newest group first.

        A department sees those nearest to its own documents and those near no
        document at all; an admin (or None) sees every one.
        """
        mine = ""
        params: list[Any] = []
        if department is not None and not department.is_admin:
            mine = f"AND (q.document_id IS NULL OR d.id IS NULL OR {OWN_DOCUMENT}) "
            params = [department.id, department.name]
        rows = self.store.read(
            "SELECT q.id, q.question, q.asked_at, q.answered, q.helpful FROM questions q "
            "LEFT JOIN documents d ON d.id = q.document_id "
            "WHERE q.faq_id IS NULL AND (q.answered = 0 OR q.helpful = 0) AND " + QUESTIONS_ONLY + " " + mine +
            "ORDER BY q.asked_at DESC, q.rowid DESC LIMIT ?",
            (*params, limit),
        )
        groups: list[dict[str, Any]] = []
        self._forget_places_if_changed()
        for row in rows:
            item = {"question_id": row["id"], "question": row["question"], "asked_at": row["asked_at"],
                    "reason": "refused" if not row["answered"] else "unhelpful"}
            for group in groups:
                if similarity(group["question"], row["question"], self._local) >= GROUP_SIMILARITY:
                    break
            else:
                group = {"id": row["id"], "question": row["question"], "count": 0,
                         "last_asked": row["asked_at"], "reasons": [], "questions": []}
                groups.append(group)
            group["count"] += 1
            group["questions"].append(item)
            if item["reason"] not in group["reasons"]:
                group["reasons"].append(item["reason"])
        return groups

    @staticmethod
    def _asked(days: int, department: Department | None) -> tuple[str, list[Any]]:
        """FROM and WHERE of the questions of the last ``days`` days that a department's figures count.

        A department counts the questions answered from its own documents, and those refused only
        because they name another place (its passage held the answer for here). A question the bot
        found too weak a passage for is about no department's documents, whichever passage came
        nearest (护照怎么办理 is not the 医保局's), so only an admin (or None) counts it; departments
        see it in their unanswered queue.
        """
        since = (datetime.now(CST) - timedelta(days=days - 1)).date().isoformat()
        sql = ("FROM questions q LEFT JOIN documents d ON d.id = q.document_id "
               "WHERE q.day >= ? AND " + QUESTIONS_ONLY)
        if department is None or department.is_admin:
            return sql, [since]
        return (f"{sql} AND (q.answered = 1 OR q.reason = 'other_place') AND {OWN_DOCUMENT}",
                [since, department.id, department.name])

    def hot(self, limit: int = 10, days: int = 30, department: Department | None = None) -> list[dict[str, Any]]:
        """The most asked questions lately (a department: about its documents), similar wordings counted together."""
        asked, params = self._asked(days, department)
        rows = self.store.read(f"SELECT q.question {asked} ORDER BY q.asked_at DESC, q.rowid DESC LIMIT 5000",
                               params)
        groups: list[list[Any]] = []  # [representative, count]
        self._forget_places_if_changed()
        for row in rows:
            for group in groups:
                if similarity(group[0], row["question"], self._local) >= GROUP_SIMILARITY:
                    group[1] += 1
                    break
            else:
                groups.append([row["question"], 1])
        groups.sort(key=lambda g: -g[1])
        return [{"question": q, "count": n} for q, n in groups[:limit]]

    def stats(self, days: int = 30, department: Department | None = None) -> dict[str, Any]:
        """Questions per day, answered rate, feedback, hot questions and top documents;
        a department sees those about its own documents, an admin (or None) every one."""
        asked, params = self._asked(days, department)
        per_day = self.store.read(
            f"SELECT q.day, count(*) AS n, sum(q.answered) AS a {asked} GROUP BY q.day ORDER BY q.day", params)
        total = sum(r["n"] for r in per_day)
        answered = sum(r["a"] or 0 for r in per_day)
        topics: Counter[str] = Counter()
        titles: dict[str, tuple[str, str | None]] = {}
        for row in self.store.read(
            f"SELECT q.document_id, d.title, d.doc_number {asked} AND q.answered = 1 AND d.id IS NOT NULL", params,
        ):
            topics[row["document_id"]] += 1
            titles[row["document_id"]] = (row["title"], row["doc_number"])
        helpful = defaultdict(int)
        for row in self.store.read(
            f"SELECT q.helpful, count(*) AS n {asked} AND q.helpful IS NOT NULL GROUP BY q.helpful", params,
        ):
            helpful["helpful" if row["helpful"] else "unhelpful"] = row["n"]
        return {
            "days_covered": days,
            "total": total,
            "answered": answered,
            "answered_rate": round(answered / total, 4) if total else 0.0,
            "feedback": {"helpful": helpful["helpful"], "unhelpful": helpful["unhelpful"]},
            "days": [{"date": r["day"], "questions": r["n"], "answered": r["a"] or 0} for r in per_day],
            "hot_questions": self.hot(limit=10, days=days, department=department),
            # The 文号 tells two years' notices of one title apart.
            "topics": [{"document_id": d, "title": titles[d][0], "doc_number": titles[d][1], "count": n}
                       for d, n in topics.most_common(10)],
        }
