"""Departments and their keys for the API tests."""

from __future__ import annotations

import pytest


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def keys(kb) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        "civil": kb.store.add_department("青川市民政局")[1],
        "health": kb.store.add_department("青川市卫生健康委员会")[1],
        "admin": kb.store.add_department("青川市人民政府办公室", admin=True)[1],
    }
