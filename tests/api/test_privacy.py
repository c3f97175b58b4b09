import logging

import pytest

from api.privacy import MaskingFilter, install, mask


def test_mask_hides_id_and_mobile_numbers_but_not_amounts() -> None:
    assert mask("身份证110101199003071234怎么补办") == "身份证110101********1234怎么补办"
    assert mask("身份证11010119900307123X") == "身份证110101********123X"
    assert mask("电话13812345678") == "电话138****5678"
    assert mask("补贴1500元，热线12345，金额123456789012345678901") == "补贴1500元，热线12345，金额123456789012345678901"


def test_access_log_records_are_masked(client, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    logger = logging.getLogger("uvicorn.access")
    assert any(isinstance(f, MaskingFilter) for f in logger.filters)
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1", "GET", "/api/v1/search?q=13812345678", "1.1", 200)
    assert "13812345678" not in caplog.text
    assert "138****5678" in caplog.text


def test_records_from_child_loggers_and_tracebacks_are_masked_at_the_handler() -> None:
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(self.format(record))

    handler = Collect()
    handler.setFormatter(logging.Formatter("%(message)s"))
    parent = logging.getLogger("pbtest")
    parent.addHandler(handler)
    parent.setLevel(logging.INFO)
    try:
        install("pbtest")
        child = logging.getLogger("pbtest.bot.answer")  # propagates; has no filter of its own
        child.info("question from %s: 身份证%s", "13912345678", "110101199003071234")
        try:
            raise ValueError("bad phone 13700001111")
        except ValueError:
            child.exception("failed")
    finally:
        parent.removeHandler(handler)
    text = "\n".join(seen)
    assert "13912345678" not in text and "110101199003071234" not in text and "13700001111" not in text
    assert "139****5678" in text and "137****1111" in text


def test_uvicorn_access_formatter_still_formats_masked_records() -> None:
    from uvicorn.logging import AccessFormatter

    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/api/v1/search?q=13812345678", "1.1", 200), None)
    assert MaskingFilter().filter(record)
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False).format(record)
    assert "138****5678" in line and "13812345678" not in line and "200" in line


@pytest.mark.parametrize("path", [
    "/api/v1/search?q=%E8%BA%AB%E4%BB%BD%E8%AF%81110101199003071234",  # 身份证110101…, percent-encoded
    "/api/v1/search?q=%E7%94%B5%E8%AF%9D%E5%8F%B713812345678",  # 电话号13812345678
    "/chat?q=%E6%88%91%E7%9A%84%E7%94%B5%E8%AF%9D+13812345678",  # a space written as +
    "/chat?q=call%2013812345678",
])
def test_percent_encoded_numbers_in_a_request_line_are_masked(path: str) -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", path, "1.1", 200), None)
    assert MaskingFilter().filter(record)
    line = record.getMessage()
    assert "110101199003071234" not in line and "13812345678" not in line
    assert "********1234" in line or "138****5678" in line


@pytest.mark.parametrize(("written", "masked"), [
    ("+8613812345678", "+86138****5678"),
    ("１３８１２３４５６７８", "138****5678"),
    ("138.1234.5678", "138.****.5678"),
    ("110101 19900307 1234", "110101********1234"),
    ("旧身份证110101900307123", "旧身份证110101******123"),
    ("身份证 1101 0119 9003 0712 35", "身份证 110101********1235"),
    ("电话0571-88886666", "电话0571-****6666"),
    ("（0888）61234567", "（0888）****4567"),
    ("电话010-1234567", "电话010-***4567"),  # the shortest number masked: 10 digits
    ("2025年3月补贴820元", "2025年3月补贴820元"),  # too few digits for any number: untouched
])
def test_mask_catches_the_ways_numbers_are_written(written: str, masked: str) -> None:
    assert mask(written) == masked


def test_strip_personal_leaves_policy_numbers() -> None:
    from knowledge.privacy import strip_personal

    assert strip_personal("我电话13812345678，补贴1500元，2024年7月1日") == " ，补贴1500元，2024年7月1日"
    assert strip_personal("身份证号：1101 0119 9003 0712 35，座机0571-88886666，创业担保贷款最多多少") == \
        " ，座机 ，创业担保贷款最多多少"
    # A bare 身份证 may be the topic; amounts in a row are not an ID; a bank card is no landline.
    assert strip_personal("用身份证110101200501011234能在网上缴居民医保吗") == "用身份证 能在网上缴居民医保吗"
    assert strip_personal("缴费档次 500 800 1000 1500 2000") == "缴费档次 500 800 1000 1500 2000"
    assert mask("卡号6222 0212 3456 7890 123") == "卡号6222 0212 3456 7890 123"
