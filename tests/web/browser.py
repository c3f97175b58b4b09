"""What the browser tests share: waiting for the page, and the API as another client sees it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

EMPLOYMENT = "《青川市人民政府办公室关于进一步稳就业促创业的若干措施》（青府办发〔2024〕12号）"
PAYLOAD = '<img src=x onerror="window.__xss=1">'


def find(driver: Any, css: str, timeout: float = 15) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def find_all(driver: Any, css: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, css))


def wait_text(driver: Any, css: str, text: str, timeout: float = 15) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))
    return driver.find_element(By.CSS_SELECTOR, css)


def settled(driver: Any, css: str, text: str, timeout: float = 15) -> Any:
    """The element once it holds ``text`` and has stopped being re-rendered (a list the page
    fills twice, e.g. on a tab click and again when an upload finishes)."""
    import time

    deadline = time.monotonic() + timeout
    previous = None
    while time.monotonic() < deadline:
        current = driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.outerHTML : null;", css)
        if current is not None and text in driver.execute_script(
                "return document.querySelector(arguments[0]).textContent;", css) and current == previous:
            return driver.find_element("css selector", css)
        previous = current
        time.sleep(0.3)
    return wait_text(driver, css, text, timeout=1)


def call(server: Any, path: str, key: str | None = None, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """The API as any other client sees it (for checking what the pages did)."""
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server.url + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def tap(driver: Any, element: Any) -> None:
    """Scroll an element clear of the fixed question box, as a reader would, and click it."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def ask_on_page(driver: Any, question: str) -> Any:
    count = len(find_all(driver, "li.msg.bot:not(.intro)"))
    box = find(driver, "#question")
    box.send_keys(question)
    driver.find_element("id", "ask-button").click()
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(
        lambda d: len(find_all(d, "li.msg.bot:not(.intro):not(.pending)")) > count)
    return find_all(driver, "li.msg.bot:not(.intro)")[-1]


def sign_in(driver: Any, server: Any, key: str) -> None:
    driver.get(server.url + "/console")
    find(driver, "#key").send_keys(key)
    driver.find_element("css selector", "#sign-in button[type=submit]").click()
