"""How well a passage supports an answer, in numbers that mean the same on any corpus.

The retriever's fused score is relative (BM25 over the best candidate, cosine
min-max over the candidates): the first hit scores about 1 whether or not the
knowledge base knows anything about the question. Refusal needs absolute
evidence instead:

- ``coverage``: the share of the question's topic words, weighted by idf, that
  the passage (with its title and headings) contains. A word no passage holds
  (汽油, 驾照) weighs most, so an out-of-scope question covers little.
- ``cosine``: the embedder's raw query-passage similarity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.text import has_fact_for, normalize, sentences
from knowledge.embedders import DEFAULT_EMBEDDER
from knowledge.retriever import Hit
from knowledge.synonyms import SYNONYMS

@dataclass(frozen=True)
class Calibration:
    """How coverage and cosine combine into a confidence, and where refusal starts."""

    coverage_weight: float
    cosine_floor: float  # similarities below the floor count as 0
    fact_penalty: float  # asked an amount or a time, and no sentence on the topic gives one
    threshold: float  # confidence below it is refused


# Calibrated by bench/calibrate_refusal.py on ../shared/eval (answerable
# questions on their own corpus; out of scope: the sets' questions asked of a
# corpus they are not about, and the unanswerable lines), every (set, corpus)
# pair weighing the same; figures in docs/benchmarks.md. Cosines mean
# different things for different models, so a model without its own
# calibration is judged on coverage alone (calibrated the same way).
CALIBRATIONS: dict[str, Calibration] = {
    DEFAULT_EMBEDDER: Calibration(0.3, 0.8, 0.05, 0.42),
    # Questions embedded by the distilled query encoder (POLICYBOT_QUERY_ENCODER=tower): its cosines
    # run higher than the engine's, so it has its own, fitted on the train halves only (SPLIT=train).
    f"{DEFAULT_EMBEDDER}+tower-0-4-8-11": Calibration(0.2, 0.85, 0.2, 0.34),
}
COVERAGE_ONLY = Calibration(1.0, 0.8, 0.1, 0.41)
FACT_KINDS = frozenset({"amount", "when", "papers"})  # facts a passage states or not; asked and absent counts against


def calibration_for(embedder_name: str) -> Calibration:
    return CALIBRATIONS.get(embedder_name, COVERAGE_ONLY)


@dataclass
class Evidence:
    coverage: float
    cosine: float
    missing: list[str]
    fact_missing: bool = False
    states_asked: bool = False  # a sentence on the topic gives the steps or conditions asked for

    def confidence(self, calibration: Calibration) -> float:
        c = calibration
        dense = max(0.0, (self.cosine - c.cosine_floor) / (1.0 - c.cosine_floor)) if self.cosine else 0.0
        value = c.coverage_weight * self.coverage + (1.0 - c.coverage_weight) * min(1.0, dense)
        return value - c.fact_penalty if self.fact_missing else value


def weigh(words: list[str], hit: Hit, idf: Callable[[str], float], wanted: set[str] | None = None) -> Evidence:
    """The evidence one passage gives for a question's topic words (and the kind of fact it wants)."""
    haystack = normalize(f"{hit.document.title}{hit.document.doc_number or ''}{hit.header}{hit.text}")
    total = covered = 0.0
    missing = []
    for word in words:
        weight = idf(word)
        total += weight
        forms = _forms(word)
        if any(form in haystack for form in forms) or _covered_by_parts(forms[0], haystack):
            covered += weight
        else:
            missing.append(word)
    coverage = covered / total if total else 0.0
    return Evidence(coverage, hit.cosine or 0.0, missing, fact_missing=_fact_missing(words, hit.text, wanted),
                    states_asked=_states_asked(hit.text, wanted))


def _fact_missing(words: list[str], text: str, wanted: set[str] | None) -> bool:
    """Asked "how much", "how long" or "what to bring", the passage must say so in a sentence on the topic."""
    if not wanted or not wanted & FACT_KINDS:
        return False
    normalized = [normalize(w) for w in words]
    topical = [s for s in sentences(text) if any(w in normalize(s) for w in normalized)]
    return not any(has_fact_for(s, wanted) for s in topical)


def _states_asked(text: str, wanted: set[str] | None) -> bool:
    """Asked for the conditions or the steps, the passage states them (re-ranking only: such
    answers are often worded otherwise, so their absence is no reason to refuse)."""
    asked = (wanted or set()) & {"conditions", "steps"}
    return bool(asked) and any(has_fact_for(s, asked) for s in sentences(text))


def sentence_support(words: list[str], text: str, idf: Callable[[str], float],
                     wanted: set[str] | None = None) -> tuple[float, float]:
    """How much of the topic one sentence holds: the best idf coverage of ``words`` by a single
    sentence, and by a single sentence that also gives the kind of fact asked (an amount, a
    time, the papers; 0 if none does). A near miss on the right notice spreads the topic over
    sentences about other things (住院 … 报销90% for 住院起付线多少)."""
    weighted = [(idf(w), _forms(w)) for w in words]
    total = sum(weight for weight, _ in weighted)
    if not total:
        return 0.0, 0.0
    facts = (wanted or set()) & FACT_KINDS
    best = best_fact = 0.0
    for sentence in sentences(text):
        held = normalize(sentence)
        covered = sum(weight for weight, forms in weighted if any(form in held for form in forms))
        best = max(best, covered / total)
        if facts and has_fact_for(sentence, facts):
            best_fact = max(best_fact, covered / total)
    return best, best_fact if facts else best


def _forms(word: str) -> tuple[str, ...]:
    """The word and its official terms (knowledge/synonyms.py), normalised: any of them counts."""
    return (normalize(word), *(normalize(t) for t in SYNONYMS.get(word, ())))


def _covered_by_parts(word: str, haystack: str) -> bool:
    """A long word whose halves both occur (就业见习 ~ 就业…见习) counts as present."""
    if len(word) < 4:
        return False
    half = len(word) // 2
    return word[:half] in haystack and word[half:] in haystack
