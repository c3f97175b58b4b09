import logging

import pytest

from api.privacy import MaskingFilter, mask


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
