"""A live policybot (real uvicorn, SQLite, FAISS, model) and one headless Chromium.

Browser tests need Debian's chromium and chromium-driver. Without them they are
skipped, unless POLICYBOT_REQUIRE_BROWSER=1 (CI), where a missing browser fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import TEST_EMBEDDER
from tests.wechat.conftest import copy_data_dir, live

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@dataclass
class LiveServer:
    url: str
    kb: Any
    keys: dict[str, str]


def require_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (os.path.exists(p) and os.access(p, os.X_OK))]
    if not missing:
        return
    reason = (f"browser tests need Debian's chromium and chromium-driver ({', '.join(missing)} missing): "
              "apt-get install chromium chromium-driver")
    if os.environ.get("POLICYBOT_REQUIRE_BROWSER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def live_server(samples_kb, embedder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """A copy of the sample knowledge base behind a real uvicorn on a free localhost port.

    A copy, because these tests upload, ask and answer: nothing they write reaches other tests.
    """
    require_browser()
    from api.app import create_app
    from api.config import Settings
    from knowledge.base import KnowledgeBase

    data_dir, url = copy_data_dir(samples_kb, tmp_path_factory.mktemp("web") / "data")
    kb = KnowledgeBase(data_dir, embedder, url)
    keys = {
        "civil": kb.store.add_department("青川市民政局")[1],
        "admin": kb.store.add_department("青川市人民政府办公室", admin=True)[1],
    }
    app = create_app(Settings(data_dir=data_dir, database_url=url, embedder=TEST_EMBEDDER, rate_limit=0), kb=kb)
    with live(app) as url:
        yield LiveServer(url=url, kb=kb, keys=keys)
    kb.store.close()


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium for the session; selenium-manager is never asked for anything."""
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tmp_path_factory.mktemp("chromium-profile")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=412,915", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser, live_server) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """The browser with a fresh tab state; fails the test if a page script threw.

    Network errors (a 401 for a wrong key) are expected and are not script errors.
    """
    browser.get("about:blank")
    browser.get_log("browser")  # drop what earlier tests left
    yield browser
    from selenium.common.exceptions import NoAlertPresentException

    try:  # a confirm() a failed test left open would block every later test
        browser.switch_to.alert.dismiss()
    except NoAlertPresentException:
        pass
    errors = [e for e in browser.get_log("browser")
              if e.get("level") == "SEVERE" and e.get("source") != "network"]
    browser.execute_script("try { sessionStorage.clear(); } catch (e) {}")
    assert not errors, errors
