"""`policybot wechat ...`: official-account administration through the WeChat API."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click
import httpx

from api.wechat.client import API_BASE, WeChatAPI, WeChatAPIError
from api.wechat.menu import MenuError, check_for_upload, load_menu
from api.wechat.redis_log import channel_db

logger = logging.getLogger(__name__)


@click.group("wechat")
def wechat() -> None:
    """WeChat official account (公众号) administration."""


@wechat.command("menu")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--api-base", default=API_BASE, show_default=True, envvar="POLICYBOT_WECHAT_API_BASE",
              help="WeChat API server (a proxy on an intranet, or a test server).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def menu(file: Path, api_base: str, as_json: bool) -> None:
    """Create the account's menu from FILE.json ("button" as WeChat takes it, plus "answers")."""
    from api.cli import load_settings  # here: api.cli imports this module
    from knowledge.store import open_store

    settings = load_settings()
    if not settings.wechat_appid or not settings.wechat_secret:
        raise click.ClickException("创建菜单需要设置 POLICYBOT_WECHAT_APPID 和 POLICYBOT_WECHAT_SECRET。")
    try:
        parsed = load_menu(file)
        check_for_upload(parsed)
    except MenuError as exc:
        raise click.ClickException(str(exc)) from exc
    # The store (or Redis) holds the shared access token, so the CLI and the workers use one.
    store = open_store(settings.data_dir, settings.database_url)
    api = WeChatAPI(settings.wechat_appid, settings.wechat_secret, channel_db(settings, store), base_url=api_base)
    try:
        api.create_menu({"button": parsed.buttons})
    except WeChatAPIError as exc:
        raise click.ClickException(f"微信接口拒绝了菜单（错误码 {exc.errcode}：{exc.errmsg}）。") from exc
    except httpx.HTTPError as exc:
        raise click.ClickException(f"无法连接微信接口 {api_base}：{exc}") from exc
    finally:
        api.close()
        store.close()
    if as_json:
        click.echo(json.dumps({"created": True, "buttons": len(parsed.buttons)}, ensure_ascii=False))
    else:
        click.echo(f"菜单已创建：{len(parsed.buttons)} 个一级菜单。")
