"""The README's command lines work as written after `make run` on a fresh machine.

`make run` installs the CLI into .venv/bin, which is not on PATH: a bare
`policybot …` is "command not found" there.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import click
import pytest

from api.cli import main
from tests.postgres import store_at

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
# What stands before `policybot`, the command, and the word after it.
CALL = re.compile(r"(\S*?)policybot ([a-z]+)(?: ([a-z-]+))?")
CLI = ROOT / ".venv" / "bin" / "policybot"


def calls() -> list[tuple[str, str, str | None]]:
    return [(m[1], m[2], m[3]) for m in CALL.finditer(README) if m[2] in main.commands]  # type: ignore[attr-defined]


def test_every_cli_example_in_the_readme_names_the_installed_command() -> None:
    found = calls()
    assert len(found) >= 15, found  # ingest, search, ask, departments, eval, rebuild, serve, wechat
    assert {c for _, c, _ in found} >= {"ingest", "search", "ask", "departments", "eval", "rebuild", "serve", "wechat"}
    bare = [f"policybot {c} {w or ''}" for prefix, c, w in found if prefix.lstrip("(`") != ".venv/bin/"]
    assert not bare, bare
    for _, command, word in found:  # each names a real command (and sub-command)
        group = main.commands[command]  # type: ignore[attr-defined]
        if isinstance(group, click.Group):
            assert word in group.commands, (command, word)


def test_make_run_installs_the_command_where_the_readme_calls_it() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "VENV ?= .venv" in makefile and "BIN := $(VENV)/bin" in makefile
    assert re.search(r"^run: install$", makefile, re.M) and "$(BIN)/pip install --quiet -e ." in makefile
    assert 'policybot = "api.cli:main"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


@pytest.mark.skipif(not CLI.exists(), reason="the tests run from another environment than .venv (make test makes it)")
def test_the_readmes_departments_add_runs_as_written(tmp_path: Path) -> None:
    env = {**os.environ, "POLICYBOT_DATA_DIR": str(tmp_path)}
    done = subprocess.run([".venv/bin/policybot", "departments", "add", "青川市民政局", "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    issued = json.loads(done.stdout)
    assert issued["name"] == "青川市民政局"
    store = store_at(tmp_path)  # the key works against the store the service would open
    try:
        assert store.department_for_key(issued["key"]).name == "青川市民政局"  # type: ignore[union-attr]
    finally:
        store.close()
