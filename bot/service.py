"""The answering bot: retrieve, weigh the evidence, answer with citations or hand off.

    question -> (follow-up? add the previous turn) -> hybrid search over all
    statuses -> evidence of the best passages -> refuse, or quote the governing
    sentences with the document, article and department -> log (masked)
"""

from __future__ import annotations

import json
import logging
import re
from datetime import date
from typing import Any

from bot.answer import Answer, Handoff
from bot.answerability import AnswerabilityModel, Assessment, answerability_for
from bot.compose import Units, compose, pick_sentences, source_line
from bot.dialogue import Turn, is_follow_up
from bot.evidence import COVERAGE_ONLY, Evidence, calibration_for, weigh
from bot.llm import Rephraser
from bot.questions import QuestionLog
from bot.redis_sessions import sessions_for
from bot.smalltalk import reply_for
from bot.text import content_words, intents, normalize, place_names, policy_year
from knowledge.base import KnowledgeBase
from knowledge.errors import Invalid
from knowledge.privacy import mask, strip_personal
from knowledge.records import DocumentRecord
from knowledge.retriever import Hit, Retriever
from knowledge.synonyms import SYNONYMS

logger = logging.getLogger(__name__)

MAX_QUESTION = 500
CANDIDATES = 8  # passages weighed per question
CONSIDERED = 5  # of which these may be preferred over the first for being in force
RERANK_COVERAGE = 0.2
RERANK_FACT = 0.1
RERANK_YEAR = 0.2  # the passage is about the policy year asked for
FOLLOW_FOCUS = 0.3  # a follow-up's own words, as much as staying on the previous document
# Joins an interpretation chunk `ch` to its section `s`: the chunk holds the section's opening words.
SECTION_OF_CHUNK = "AND length(s.answer) > 0 AND instr(ch.text, substr(s.answer, 1, 30)) > 0"
_MARKUP = re.compile(r"</?[A-Za-z][^<>]{0,200}>")  # tags, not 月收入<3000元
# Who interprets (谁来解读, 解读材料谁来写), not a who-question that cites 政策解读.
_WHO_INTERPRETS = re.compile(r"(?:谁|哪个部门|哪个单位|哪家)(?:来|负责)?(?:解读|写解读|出解读)"
                             r"|解读(?:材料|工作|文件)?(?:由|归)?(?:谁|哪个部门|哪个单位)")
STATUS_WORDS = {"repealed": "已废止", "expired": "已失效", "amended": "已被修订"}


class Bot:
    def __init__(self, kb: KnowledgeBase, retriever: Retriever, settings: Any = None,
                 rephraser: Rephraser | None = None, answerability: AnswerabilityModel | None | str = "shipped",
                 ) -> None:
        self.kb = kb
        self.store = kb.store
        self.retriever = retriever
        self.hotline = getattr(settings, "hotline", "12345")
        # Both judge the question's cosines, so both belong to the encoder of questions: the distilled
        # one (knowledge/query_tower.py) has its own calibration and no learned model.
        encoder = kb.embedder.query_name
        self.calibration = calibration_for(encoder)
        # The learned refusal model (bot/answerability.py), for the embedder it was trained on.
        self.answerability = answerability_for(encoder) if answerability == "shipped" else answerability
        self.sessions = sessions_for(kb.store, settings)
        self.questions = QuestionLog(kb.store)
        self.rephraser = rephraser

    def warm_up(self) -> None:
        """Load what the first question would otherwise wait for (jieba's tagger)."""
        place_names("青川市")

    # -- the one verb -------------------------------------------------------------

    def ask(self, question: str, session_id: str | None = None, channel: str = "api") -> Answer:
        question = " ".join((question or "").split())
        if not question:
            raise Invalid("问题不能为空，请输入您想咨询的内容。")
        if len(question) > MAX_QUESTION:
            raise Invalid(f"问题过长（{len(question)}字），请精简到{MAX_QUESTION}字以内。")
        small = reply_for(question)
        if small is not None:
            # API.md: whenever `answered` is false, `handoff` says where to turn.
            answer = Answer("", False, small, [], self._handoff(), [], 0.0)
            answer.question_id = self.questions.record(question, channel, session_id, False, "not_a_question",
                                                       None, None, 0.0)
            return answer
        previous = self.sessions.last(session_id)
        # Markup pasted with a question (<img …>, <br>) says nothing about policy.
        asked = " ".join(_MARKUP.sub(" ", strip_personal(question)).split()) or question
        follow_up = previous is not None and is_follow_up(asked) and not self._changes_topic(asked, previous)
        query = f"{previous.question} {asked}" if follow_up and previous else asked
        answer, hit, reason = self._answer(asked, query, previous if follow_up else None)
        answer.question_id = self.questions.record(
            question, channel, session_id, answer.answered, reason,
            hit.document.id if hit else None, hit.chunk_id if hit else None, answer.confidence,
        )
        if answer.answered and hit:
            # The topic is the question that opened it: follow-ups do not pile up in the state.
            topic = previous.question if follow_up and previous else mask(asked)
            self.sessions.remember(session_id, Turn(topic[:MAX_QUESTION], hit.document.id, hit.chunk_id))
        logger.info("question %s via %s: answered=%s confidence=%.3f follow_up=%s", answer.question_id, channel,
                    answer.answered, answer.confidence, follow_up)
        return answer

    def feedback(self, question_id: str, helpful: bool, comment: str | None = None) -> None:
        self.questions.feedback(question_id, helpful, comment)

    # -- answering ----------------------------------------------------------------

    def _answer(self, question: str, query: str, previous: Turn | None) -> tuple[Answer, Hit | None, str | None]:
        """The answer, the passage it rests on, and why it was refused (None if it was not)."""
        found = self.assess(question, query, previous)
        if found is None:
            return self._refuse(0.0), None, "no_evidence"
        hit, evidence, calibration = found.hit, found.evidence, found.calibration
        if self.answerability is not None and calibration is self.calibration:
            confidence = self.answerability.probability(found, self.kb.lexical.idf)
            refused = confidence < self.answerability.threshold
        else:
            confidence = evidence.confidence(calibration)
            refused = confidence < calibration.threshold
        if refused:
            return self._refuse(confidence), hit, "weak_evidence"
        elsewhere = self._foreign_places(query, hit)
        if elsewhere:
            return self._refuse(confidence, "、".join(elsewhere)), hit, "other_place"
        return self._compose(question, found.words, found.wanted, hit, found.companion, confidence), hit, None

    def assess(self, question: str, query: str | None = None, previous: Turn | None = None) -> Assessment | None:
        """The passage the bot would answer from and its evidence, before deciding whether to;
        None when nothing was found or the question has no topic words."""
        query = query or question
        hits = self.retriever.search(query, k=CANDIDATES, status="all")
        words = content_words(query, self.kb.lexical.has_term)
        own = self._own_words(question, previous) if previous else []
        if previous and previous.document_id:
            # The follow-up is about what was just answered, and about what it adds
            # ("那大学生呢？" after 新生儿: the 大学生 article of the same notice).
            for hit in hits:
                hit.score += 0.3 if hit.document.id == previous.document_id else 0.0
                hit.score += FOLLOW_FOCUS * weigh(own, hit, self.kb.lexical.idf).coverage if own else 0.0
            hits.sort(key=lambda h: -h.score)
        if not hits or not words:
            return None
        idf = self.kb.lexical.idf
        wanted = intents(question)
        topic = words
        if previous and hits[0].document.id == previous.document_id:
            # A follow-up's own words are mostly generic (条件, 多久): the topic is the previous
            # turn's, with what the follow-up names that the document holds (那大学生呢？ -> 大学生).
            held = [w for w in own if weigh([w], hits[0], idf).coverage > 0]
            topic = held + (content_words(previous.question, self.kb.lexical.has_term) or words)
        weighed = [(hit, weigh(topic, hit, idf, wanted)) for hit in hits[:CONSIDERED]]
        hit, evidence = self._choose(weighed, policy_year(question))
        companion = None
        if hit.kind == "interpretation":
            governing = self._governing_article(hit, evidence, weighed, topic, wanted)
            if governing is not None:
                companion, (hit, evidence) = hit, governing
        calibration = self.calibration
        if hit.cosine is None and hit.chunk_id in self.kb.pending:
            # Stored a moment ago (a new FAQ, a fresh upload): no similarity to weigh yet,
            # so judged on its words alone, as an uncalibrated embedder is.
            calibration = COVERAGE_ONLY
        return Assessment(hit, evidence, calibration, companion, words, wanted, topic, weighed)

    def _own_words(self, asked: str, previous: Turn) -> list[str]:
        """The topic words a follow-up adds to the question it continues."""
        return [w for w in content_words(asked, self.kb.lexical.has_term) if w not in previous.question]

    def _changes_topic(self, asked: str, previous: Turn) -> bool:
        """A question worded like a follow-up that names what another document is about and the
        previous one never mentions ("怎么提取公积金？" after a medical-insurance answer)."""
        if not previous.document_id:
            return False
        for word in self._own_words(asked, previous):
            forms = [word, *SYNONYMS.get(word, ())]
            found = " OR ".join("instr(x, ?) > 0" for _ in forms)
            doc = previous.document_id
            # The previous document first (through its index): a word it holds changes nothing.
            if self.store.read(
                f"SELECT 1 FROM (SELECT title AS x FROM documents WHERE id = ? UNION ALL "
                f"SELECT text AS x FROM articles WHERE document_id = ?) AS texts WHERE {found} LIMIT 1",
                (doc, doc, *forms),
            ):
                continue
            # Named in another document's title or headings: that is where the question goes.
            if self.store.read(
                f"SELECT 1 FROM (SELECT title AS x FROM documents WHERE id != ? UNION ALL "
                f"SELECT label AS x FROM articles WHERE document_id != ?) AS texts WHERE {found} LIMIT 1",
                (doc, doc, *forms),
            ):
                return True
        return False

    def _governing_article(self, interpretation: Hit, found: Evidence, weighed: list[tuple[Hit, Evidence]],
                           topic: list[str], wanted: set[str]) -> tuple[Hit, Evidence] | None:
        """The article an interpretation passage explains, to answer from (谁起草、谁解读: the policy
        governs, the interpretation explains): the article its section is linked to, else an article of
        the same document among the candidates that answers nearly as well."""
        floor = max(self.calibration.threshold, found.confidence(self.calibration) - 0.15)
        rows = self.store.read(
            "SELECT a.id FROM chunks ch JOIN interpretation_sections s ON s.interpretation_id = ch.interpretation_id "
            f"{SECTION_OF_CHUNK} "
            "JOIN chunks a ON a.article_id = s.article_id AND a.parent_chunk_id IS NULL "
            "WHERE ch.id = ? ORDER BY a.part LIMIT 1", (interpretation.chunk_id,),
        )
        options = [(h, e) for h, e in weighed if h.kind == "article" and h.document.id == interpretation.document.id]
        # The article that answers best, not the first that answers well enough.
        options.sort(key=lambda item: -(item[1].confidence(self.calibration) + RERANK_COVERAGE * item[1].coverage))
        if rows:
            options = [(h, weigh(topic, h, self.kb.lexical.idf, wanted)) for h in self.retriever.hits(
                [(rows[0]["id"], interpretation.score)])] + options
            floor = self.calibration.threshold
        for hit, evidence in options:
            if evidence.confidence(self.calibration) >= floor:
                return hit, evidence
        return None

    def _choose(self, weighed: list[tuple[Hit, Evidence]], year: str | None = None) -> tuple[Hit, Evidence]:
        """The best-supported passage, and one in force over a repealed one that answers no better.

        The candidates are re-ranked by their search score plus what the
        evidence adds: how much of the question they cover, and whether they
        state the amount or time asked for (weights measured on all sets,
        docs/benchmarks.md). A question about one policy year ("2024年度")
        is answered by a passage about that year, even a repealed one (behind
        its warning), rather than by the current rule for another year.
        """
        def names_year(hit: Hit) -> bool:
            return bool(year) and year in normalize(hit.text)

        weighed = sorted(weighed, key=lambda item: -(item[0].score + RERANK_COVERAGE * item[1].coverage
                                                      + RERANK_FACT * (not item[1].fact_missing)
                                                      + RERANK_FACT * item[1].states_asked
                                                      + RERANK_YEAR * names_year(item[0])))
        first, first_evidence = weighed[0]
        if first.document.status == "current":
            return first, first_evidence
        for hit, evidence in weighed[1:]:
            confidence = evidence.confidence(self.calibration)
            if (hit.document.status == "current" and confidence >= self.calibration.threshold
                    and confidence >= first_evidence.confidence(self.calibration) - 0.1
                    and (names_year(hit) or not names_year(first))):
                return hit, evidence
        return first, first_evidence

    def _handoff(self) -> Handoff:
        return Handoff(f"请拨打{self.hotline}热线，工作人员会为您解答或转交相关部门。", self.hotline)

    def _refuse(self, confidence: float, place: str | None = None) -> Answer:
        if place:
            message = (f"抱歉，知识库中没有{place}的相关政策，我不能用其他地方的规定作答。"
                       f"请咨询{place}当地的政务服务热线（一般为12345）。")
        else:
            message = (f"抱歉，知识库中没有找到能回答这个问题的政策依据，我不能随意作答。"
                       f"建议拨打{self.hotline}政务服务便民热线咨询，或换个说法再问一次。")
        return Answer("", False, message, [], self._handoff(), [], confidence)

    def _foreign_places(self, question: str, hit: Hit) -> list[str]:
        """Places the question names that neither the passage nor its documents mention."""
        places = place_names(question)
        if not places:
            return []
        doc = hit.document
        context = [doc.title, doc.issuer or "", doc.drafting_department or "", hit.header, hit.text]
        parent = self.store.get_document(doc.parent_id) if doc.parent_id else None
        if parent:
            context += [parent.title, parent.issuer or ""]
        haystack = normalize("".join(context))
        missing = [p for p in places if p not in haystack and p.rstrip("省市县区州") not in haystack]
        tree = [doc.id] + ([parent.id] if parent else [])
        marks = ",".join("?" * len(tree))
        return [
            p for p in missing  # a place the whole document (or the notice printing it) names is its own
            if not self.store.read(f"SELECT 1 FROM articles WHERE document_id IN ({marks}) AND text LIKE ? LIMIT 1",
                                   (*tree, f"%{p.rstrip('省市县区州')}%"))
        ]

    def _compose(self, question: str, words: list[str], wanted: set[str], hit: Hit,
                 companion: Hit | None, confidence: float) -> Answer:
        idf = self.kb.lexical.idf
        doc = hit.document
        warnings = self._warnings(doc)
        lead = ""
        units = self._units(hit)
        by_record = _WHO_INTERPRETS.search(question) and "解读" not in hit.text
        if by_record:
            # "谁来解读 / 解读材料谁来写": 谁起草、谁解读, answered from the knowledge base's records.
            lead = self._interpreter(doc)
        elif "who" in wanted and units:
            lead = units.sentence()
        label = hit.article.get("label") if hit.article else None
        text = hit.text.split("答：", 1)[1] if hit.kind == "faq" and "答：" in hit.text else hit.text
        quoted = "" if by_record and lead else pick_sentences(text, words, wanted, idf, label, title=doc.title)
        faq_department = self._faq_department(hit) if hit.kind == "faq" else None
        source = source_line(hit, faq_department)
        citations = [hit]
        interpretation = None
        if hit.kind == "article":
            extra = self._interpretation_for(hit, words, wanted, companion)
            if extra is not None:
                section_hit, snippet = extra
                interpretation = f"【政策解读·{section_hit.interpretation.department}】{snippet}" \
                    if section_hit.interpretation else None
                citations.append(section_hit)
        text = compose(lead, quoted, source, interpretation, [f"注意：{w}" for w in warnings])
        if self.rephraser is not None:
            sources = [c.text for c in citations] + [source, lead]
            better = self.rephraser.rephrase(mask(question), text, sources)
            if better:
                text = better
        return Answer("", True, text, citations, None, warnings, confidence, source)

    # -- the parts of an answer -----------------------------------------------------

    def _warnings(self, doc: DocumentRecord) -> list[str]:
        parent = self.store.get_document(doc.parent_id) if doc.parent_id else None
        if doc.status == "current" and parent is not None and parent.status != "current":
            # Printed inside a notice that is no longer in force: so is this copy of it.
            return [f"印发《{doc.title}》的《{parent.title}》{STATUS_WORDS.get(parent.status, parent.status)}，"
                    f"以下内容仅供了解，请以现行政策为准。"]
        out = []
        if doc.status != "current":
            what = STATUS_WORDS.get(doc.status, doc.status)
            # The 文号 tells two years' notices of the same title apart.
            line = f"《{doc.title}》" + (f"（{doc.doc_number}）" if doc.doc_number else "") + what
            if doc.status == "expired" and doc.expiry_date:
                line += f"（有效期至{doc.expiry_date}）"
            line += "，以下内容仅供了解，不能作为现行政策依据"
            successor = self._successor(doc)
            line += (f"；现行文件为《{successor.title}》" + (f"（{successor.doc_number}）" if successor.doc_number else "")
                     + "。") if successor else "。"
            out.append(line)
        elif doc.effective_date and doc.effective_date > date.today().isoformat():
            out.append(f"《{doc.title}》自{doc.effective_date}起施行，目前尚未生效。")
        return out

    def _successor(self, doc: DocumentRecord) -> DocumentRecord | None:
        """The document in force that replaced this one, following a chain of replacements."""
        seen = {doc.id}
        frontier = [doc.id]
        while frontier:
            marks = ",".join("?" * len(frontier))
            rows = self.store.read(f"SELECT id FROM documents WHERE supersedes IN ({marks}) "
                                   "ORDER BY publish_date DESC", frontier)
            frontier = [r["id"] for r in rows if r["id"] not in seen]
            seen.update(frontier)
            for doc_id in frontier:
                found = self.store.get_document(doc_id)
                if found and found.status == "current":
                    return found
        return None

    def _units(self, hit: Hit) -> Units:
        rows = self.store.read(
            "SELECT a.lead_units, a.responsible_units FROM chunks c JOIN articles a ON a.id = c.article_id "
            "WHERE c.id = ?", (hit.chunk_id,),
        )
        if not rows:
            return Units([], [])
        lead = json.loads(rows[0]["lead_units"])
        return Units(lead, [u for u in json.loads(rows[0]["responsible_units"]) if u not in lead])

    def _interpreter(self, doc: DocumentRecord) -> str:
        """Who interprets this document: its published interpretation's department, else its drafter."""
        rows = self.store.read("SELECT title, department FROM interpretations WHERE document_id = ? "
                               "ORDER BY publish_date DESC LIMIT 1", (doc.id,))
        if rows:
            title = rows[0]["title"]
            title = title if "《" in title else f"《{title}》"
            return f"本文件的政策解读由{rows[0]['department']}负责，已发布{title}。"
        if doc.drafting_department:
            return f"按照“谁起草、谁解读”的原则，本文件的政策解读由起草部门{doc.drafting_department}负责。"
        return ""

    def _faq_department(self, hit: Hit) -> str | None:
        rows = self.store.read("SELECT f.department FROM chunks c JOIN faqs f ON f.id = c.faq_id WHERE c.id = ?",
                               (hit.chunk_id,))
        return rows[0]["department"] if rows else None

    def _interpretation_for(self, hit: Hit, words: list[str], wanted: set[str],
                            companion: Hit | None = None) -> tuple[Hit, str] | None:
        """The interpretation passage that explains this article and speaks to the question.

        Sections are linked to articles on upload (named, else closest in
        wording); an unlinked section qualifies only if it covers the question
        at least as well as the article does.
        """
        if companion is not None:  # the interpretation passage that led to this article
            snippet = pick_sentences(companion.text, words, wanted, self.kb.lexical.idf, limit=120)
            if snippet and normalize(snippet) not in normalize(hit.text):
                return companion, snippet
        rows = self.store.read(
            "SELECT ch.id, s.article_id IS NOT NULL AND s.article_id = c.article_id AS linked "
            "FROM chunks c JOIN interpretations i ON i.document_id = c.document_id "
            "JOIN interpretation_sections s ON s.interpretation_id = i.id "
            f"JOIN chunks ch ON ch.interpretation_id = i.id AND ch.parent_chunk_id IS NULL {SECTION_OF_CHUNK} "
            "WHERE c.id = ?", (hit.chunk_id,),
        )
        if not rows:
            return None
        linked = {r["id"] for r in rows if r["linked"]}
        candidates = self.retriever.hits([(i, 0.0) for i in dict.fromkeys(r["id"] for r in rows)])
        idf = self.kb.lexical.idf
        article_coverage = weigh(words, hit, idf).coverage
        best, best_value = None, 0.0
        for candidate in candidates:
            coverage = weigh(words, candidate, idf).coverage
            if candidate.chunk_id not in linked and coverage < max(article_coverage, 0.6):
                continue
            value = coverage + (0.2 if candidate.chunk_id in linked else 0.0)
            if value > best_value:
                best, best_value = candidate, value
        if best is None or best_value < 0.4:
            return None
        snippet = pick_sentences(best.text, words, wanted, idf, limit=120)
        if not snippet or normalize(snippet) in normalize(hit.text):
            return None
        if not any(normalize(w) in normalize(snippet) for w in words):
            return None
        return best, snippet
