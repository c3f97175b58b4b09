"""Reading questions and passages: sentences, question words, what is asked."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

import jieba.posseg

from knowledge.tokenize import STOPWORDS, get_tokenizer, in_dictionary, tokenize

# How citizens phrase a question, not what it is about: these words say
# nothing about whether the knowledge base holds the answer.
QUESTION_WORDS: frozenset[str] = frozenset(
    """多少 多少钱 多久 多长 多长时间 多大 几 几个 几天 几年 几号 啥 什么样 什么时候 何时 哪儿 哪家 谁 谁来
    能 能不能 可以 可不可以 可否 需要 需不需要 要不要 有没有 是不是 是否 有 没有 会 会不会 应该 该 怎么办 咋 咋办
    一下 现在 目前 今年 自己 给 拿 办 去 找 问 想 想问 知道 告诉 帮 帮忙 帮我 麻烦 一个 这种 那种 还 又 再 呀 啦
    具体 主要 一般 哪 里 么 的话 情况 规定 政策 问题 时候 时间 东西 事情 怎么样 为什么 还是 已经 可能 之后 以后
    以前 如果 那么 但是 因为 所以 只 能否 应当 最 最多 最高 最少 多 少 上 下 中 后 前 要 我家 我的 家里
    不要 每个 一年 好处 能够 请 您好 你好 谢谢 问问 啥时候 啥时 几点 才能 多会儿 咋样 啥样 怎样 如何""".split()
) | STOPWORDS

_CJK_ONLY = re.compile(r"[\u4e00-\u9fff]+")
# Characters that mark a run as glue (particles, auxiliaries, adverbs, pronouns,
# measure words and verb complements), not a word of its own.
_GLUE_CHARS = ("了个们的地得吗呢啊吧呀着过来去完满好到上下能要会想可就还都也才再最多更很太刚已没不别开拿找有是"
               "把被给让从向在对和与跟或及等哪啥咋怎么这那我你他她它咱谁几每些次点首啦嘛哦")
_GLUE = frozenset(_GLUE_CHARS)
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])|\n+")
_ITEM_START = re.compile(r"^\s*(?:[（(]?[一二三四五六七八九十\d]{1,3}[)）、.．])")

_WHO = re.compile(r"谁|哪个部门|哪些部门|什么部门|哪个单位|哪些单位|什么单位|哪家|由哪|牵头|负责|主管|找哪")
_WHEN = re.compile(r"多久|多长时间|什么时候|啥时候?|何时|几点|几天|几个月|几年|期限|时限|截止|到期|有效期|哪天|几号|时间")
# 额 is the amount itself (金额, 额度, 限额, 名额), not 额外 (extra).
_AMOUNT = re.compile(r"多少|几|标准|比例|额(?!外)|上限|最高|最低|幅度")
# "What do I bring": the papers a procedure asks for (办事指南 questions).
_PAPER_WORDS = frozenset("材料 证件 资料 手续 证明 东西".split())
_PAPERS = re.compile(r"(?:什么|哪些|啥|哪几样)(?:材料|证件|资料|手续|证明|东西)|(?:带|准备|拿)(?:什么|啥|哪些)"
                     r"|(?:提供|提交)(?:什么|啥|哪些)(?:材料|证件|资料|证明)")
# "How is it done": the steps of a procedure, which documents number (1．… 2．…).
_STEPS = re.compile(r"流程|(?<!小)程序|步骤|手续怎么|怎么办理|如何办理|办理方式")
_STEP_FACT = re.compile(r"^\s*(?:\d{1,2}\s*[．.、]|[（(]\d{1,2}[)）]|第[一二三四五六七八九十]步)")
# "Who may / on what conditions": stated positively (符合下列条件的, 可以申请), not
# the grounds for refusal (有下列情形之一的，不予办理).
_CONDITIONS = re.compile(r"(?:什么|哪些|啥)(?:条件|要求)|条件是|谁可以|哪些人(?:可以|能)")
_CONDITION_FACT = re.compile(r"(?:符合|具备|满足)[^，。；]{0,6}条件|条件[:：]|可以申请|可申请|方可|均可")
_WHETHER = re.compile(r"是否|能不能|可不可以|可以吗|能.*吗|会不会|有没有|要不要|需不需要|还保留吗|吗[？?]?$")

# 2025年度 names the policy year a rule is for, not a time it gives.
_TIME_FACT = re.compile(r"\d{1,2}\s*[:：]\s*\d{2}|\d+\s*(?:个?工作日|个?小时|天|日|个?月|年(?!度)|周)|[一二三四五六七八九十两]+\s*(?:个?工作日|个?小时|天|日|个月|年)|\d{4}年\d{1,2}月|即时|当日|当天")
# A sentence naming papers to hand in (not the false ones a refusal rule speaks of).
_PAPERS_FACT = re.compile(r"(?:提供|提交|携带|出具|凭|持)(?:(?!虚假|伪造)[^，。；]){0,24}?"
                          r"(?:证件|证明|合同|凭证|材料|申请表|登记表|户口簿|身份证|结婚证|证书|承诺书)")
# 12个月 and 3个工作日 are how long, not how much.
_AMOUNT_FACT = re.compile(r"\d+(?:\.\d+)?\s*(?:%|元|万元|亿元|人|名|例|户|家|倍|次|项|个(?!月|工作日|小时|星期)|岁|周岁|平方米)"
                          r"|[一二三四五六七八九十百千万两]+(?:元|万元|倍)")


def normalize(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split()).lower()


def sentences(text: str) -> list[str]:
    """Sentences of a passage, item markers kept with their item."""
    parts = [p.strip() for p in _SENTENCE_END.split(text)]
    return [p for p in parts if p and len(normalize(p)) > 1]


def content_words(question: str, known: Callable[[str], bool] | None = None) -> list[str]:
    """The words of a question that carry its topic (jieba words, no fillers).

    A word neither jieba's dictionary nor the corpus (``known``) holds is
    usually a run its HMM glued together from fillers (开了个, 最多能): dropped,
    or it would weigh most of all in the coverage.
    """
    words = []
    # "需要什么材料" asks for papers (the "papers" intent): 材料 names the kind
    # of answer, as 多少钱 does, not the topic a passage must hold.
    found = _PAPERS.search(question)
    asked = frozenset(w for w in _PAPER_WORDS if w in found.group(0)) if found else frozenset()
    for word in dict.fromkeys(tokenize(question, bigrams=False)):
        if word in QUESTION_WORDS or word in asked or (len(word) < 2 and not word.isdigit()):
            continue
        if _CJK_ONLY.fullmatch(word) and all(char in _GLUE for char in word):
            continue  # a dictionary entry made of particles and light verbs (开了个)
        if _CJK_ONLY.fullmatch(word) and not in_dictionary(word) and not (known and known(word)):
            words.extend(w for w in _unglued(word) if w not in words)
            continue
        words.append(word)
    return words


def _unglued(word: str) -> list[str]:
    """The topic inside a run jieba's HMM glued together.

    The run without the function characters at its ends (二孩有 -> 二孩); then
    its dictionary words, if it has any; else the run itself when no character
    of it is a function word (验车, 狗证: a real word that neither jieba nor the
    corpus knows, which is evidence the corpus does not answer); else nothing
    (能领, 最多能).
    """
    core = word.strip(_GLUE_CHARS)  # 二孩有 -> 二孩, 能领 -> 领
    if len(core) < 2:
        return []
    pieces = [p for p in get_tokenizer().cut(core, HMM=False) if len(p) >= 2 and p not in QUESTION_WORDS]
    if pieces:
        return pieces
    return [] if any(char in _GLUE for char in core) else [core]


# What a question asks for, by its wording (who, when, amount, whether, papers to bring,
# the steps of a procedure, the conditions), and how a sentence that gives it reads.
_ASKS: dict[str, re.Pattern[str]] = {
    "who": _WHO, "when": _WHEN, "amount": _AMOUNT, "whether": _WHETHER,
    "papers": _PAPERS, "steps": _STEPS, "conditions": _CONDITIONS,
}
_GIVES: dict[str, re.Pattern[str]] = {
    "when": _TIME_FACT, "amount": _AMOUNT_FACT, "papers": _PAPERS_FACT, "steps": _STEP_FACT,
    "conditions": _CONDITION_FACT,
}
# 谁可以申请 asks for the conditions, not the responsible units.
_WHO_MAY = re.compile(r"谁(?:可以|能)(?:申请|享受|领|参加|办)")


def intents(question: str) -> set[str]:
    """What kind of fact the question wants (the keys of ``_ASKS``)."""
    found = {name for name, pattern in _ASKS.items() if pattern.search(question)}
    if _WHO_MAY.search(question):
        found.discard("who")
    return found


def has_fact_for(sentence: str, wanted: set[str]) -> bool:
    """Whether a sentence holds the kind of fact the question wants."""
    return any(_GIVES[name].search(sentence) for name in wanted if name in _GIVES)


# A year that starts no date and no time within it (2025年12月, 2025年底, 2025年起) and ends
# no span (有效期至2025年): the policy year asked about, as in 2025年居民医保什么时候交.
_POLICY_YEAR = re.compile(r"(?<![\d至到止])(20\d{2})\s*年(?:度|(?![\d一二三四五六七八九十两〇零]|[底初末内中前后起以至到间上下]))")


def policy_year(question: str) -> str | None:
    """The policy year a question asks about ("2024年度", "2024年的医保"), as passages write it."""
    found = _POLICY_YEAR.search(unicodedata.normalize("NFKC", question))
    return f"{found.group(1)}年度" if found else None


def place_names(text: str) -> list[str]:
    """Place names (jieba's ``ns`` tag) in a question: 北京市, 湖南, 镇康县."""
    return list(_place_names(text))


@lru_cache(maxsize=4096)  # grouping the question log compares each wording many times
def _place_names(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(w.word for w in _tagger().cut(text) if w.flag == "ns" and len(w.word) >= 2))


@lru_cache(maxsize=1)
def _tagger() -> jieba.posseg.POSTokenizer:
    return jieba.posseg.POSTokenizer(get_tokenizer())
