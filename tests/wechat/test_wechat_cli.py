"""`policybot wechat menu FILE.json` against a mocked WeChat API server on localhost."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from api.wechat.cli import wechat

MENU = {
    "button": [
        {"type": "click", "name": "热点问题", "key": "HOT"},
        {"name": "办事指南", "sub_button": [
            {"type": "click", "name": "办公时间", "key": "HOURS"},
            {"type": "view", "name": "政务网站", "url": "https://www.example.gov.cn/"},
        ]},
    ],
    "answers": {"HOT": "hot", "HOURS": "工作日 9:00-12:00、13:30-17:00。"},
}


class MockWeChat(BaseHTTPRequestHandler):
    received: list[tuple[str, Any]] = []
    menu_errcode = 0

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        self.received.append((self.path, body))
        if self.path.startswith("/cgi-bin/stable_token"):
            reply: dict[str, Any] = {"access_token": "T1", "expires_in": 7200}
        elif self.path.startswith("/cgi-bin/menu/create?access_token=T1"):
            reply = {"errcode": self.menu_errcode, "errmsg": "ok" if not self.menu_errcode else "invalid button"}
        else:
            reply = {"errcode": 40001, "errmsg": "invalid credential"}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def wechat_server() -> Iterator[str]:
    MockWeChat.received = []
    MockWeChat.menu_errcode = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), MockWeChat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run(tmp_path: Path, api_base: str, menu: dict[str, Any], secret: str | None = "the-secret") -> Any:
    path = tmp_path / "menu.json"
    path.write_text(json.dumps(menu, ensure_ascii=False), encoding="utf-8")
    env = {"POLICYBOT_DATA_DIR": str(tmp_path / "data"), "POLICYBOT_WECHAT_APPID": "wxappid",
           "POLICYBOT_WECHAT_SECRET": secret, "POLICYBOT_WECHAT_API_BASE": api_base}
    return CliRunner().invoke(wechat, ["menu", str(path), "--json"], env=env)


def test_menu_is_created_through_the_wechat_api(tmp_path: Path, wechat_server: str) -> None:
    result = run(tmp_path, wechat_server, MENU)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"created": True, "buttons": 2}
    paths = [p.split("?")[0] for p, _ in MockWeChat.received]
    assert paths == ["/cgi-bin/stable_token", "/cgi-bin/menu/create"]
    assert MockWeChat.received[1][1] == {"button": MENU["button"]}  # "answers" stays with us
    # The token landed in the shared store: a second run asks for none.
    assert run(tmp_path, wechat_server, MENU).exit_code == 0
    assert [p.split("?")[0] for p, _ in MockWeChat.received].count("/cgi-bin/stable_token") == 1


def test_menu_errors_are_one_clear_line(tmp_path: Path, wechat_server: str) -> None:
    MockWeChat.menu_errcode = 40016
    refused = run(tmp_path, wechat_server, MENU)
    assert refused.exit_code == 1 and "40016" in refused.output
    unanswered = {"button": [{"type": "click", "name": "新按钮", "key": "NEW"}], "answers": {}}
    missing = run(tmp_path, wechat_server, unanswered)
    assert missing.exit_code == 1 and "NEW" in missing.output
    no_secret = run(tmp_path, wechat_server, MENU, secret=None)
    assert no_secret.exit_code == 1 and "POLICYBOT_WECHAT_SECRET" in no_secret.output
    unreachable = run(tmp_path, "http://127.0.0.1:9", MENU)
    assert unreachable.exit_code == 1 and "无法连接" in unreachable.output
