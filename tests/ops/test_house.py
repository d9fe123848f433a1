"""The house drawn from its imports: the rooms hold what their names say, and imports run one way.

dashboard.py, ui/ and app_pages/ -> data_access -> SQLAlchemy; data_access never imports streamlit; queries never
import actions; rules import nothing of the database; nothing imports a page; tests import helpers from
tests/support, never from a test module.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.environment import MAX_EXAMPLES, ROOT

PACKAGE = ROOT / "data_access"
ROOMS = ("rules", "queries", "actions", "documents", "auth", "csv_import", "demo", "migrations", "mail")
GROUND = {
    "__init__", "__main__", "db", "models", "enums", "permissions", "audit", "money", "config", "clock", "errors",
    "checks", "ledger", "cli", "migrate", "text", "subjects",
}  # fmt: skip


def imports_of(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "versions" not in p.parts)


def test_data_access_holds_only_rooms_and_the_ground_floor() -> None:
    loose = {p.stem for p in PACKAGE.glob("*.py")} - GROUND
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert loose == set(), f"modules outside a room: {sorted(loose)}"
    assert folders <= set(ROOMS), f"unknown rooms: {sorted(folders - set(ROOMS))}"


@pytest.mark.parametrize("path", modules(PACKAGE), ids=lambda p: str(p.relative_to(ROOT)))
def test_data_access_never_imports_streamlit_or_the_pages(path: Path) -> None:
    bad = [
        name
        for name in imports_of(path)
        if name.split(".")[0] in ("streamlit", "app_pages", "ui", "dashboard")
    ]
    assert bad == []


@pytest.mark.parametrize("path", modules(PACKAGE / "queries"), ids=lambda p: p.name)
def test_queries_never_import_actions(path: Path) -> None:
    assert [name for name in imports_of(path) if name.startswith("data_access.actions")] == []


@pytest.mark.parametrize("path", modules(PACKAGE / "queries"), ids=lambda p: p.name)
def test_queries_never_import_mail(path: Path) -> None:
    assert [name for name in imports_of(path) if name.startswith("data_access.mail")] == []


@pytest.mark.parametrize("path", modules(PACKAGE / "mail"), ids=lambda p: p.name)
def test_mail_imports_the_read_side_documents_rules_and_the_ground_floor(path: Path) -> None:
    """Of the write side only the collections run's refresh, which a reminder keeps in its own transaction."""
    rooms = ("queries", "documents", "rules", "mail")
    bad = [
        name
        for name in imports_of(path)
        if name.startswith("data_access.")
        and name.split(".")[1] not in GROUND | set(rooms)
        and not name.startswith("data_access.actions.collections_run")
    ]
    assert bad == []


@pytest.mark.parametrize("path", modules(PACKAGE / "rules"), ids=lambda p: p.name)
def test_rules_are_pure(path: Path) -> None:
    database = (
        "sqlalchemy",
        "data_access.db",
        "data_access.models",
        "data_access.queries",
        "data_access.actions",
    )
    assert [name for name in imports_of(path) if name.startswith(database)] == []
    assert [name for name in imports_of(path) if name.startswith("data_access.clock")] == []


@pytest.mark.parametrize("path", modules(ROOT / "app_pages"), ids=lambda p: p.name)
def test_pages_draw_and_never_touch_the_database(path: Path) -> None:
    assert [name for name in imports_of(path) if name.startswith(("sqlalchemy", "data_access.db"))] == []


@pytest.mark.parametrize("path", modules(ROOT / "tests"), ids=lambda p: str(p.relative_to(ROOT)))
def test_tests_take_helpers_from_support_never_from_a_test_module(path: Path) -> None:
    bad = [
        name
        for name in imports_of(path)
        if name.startswith("tests.")
        and any(part.startswith(("test_", "conftest")) for part in name.split("."))
    ]
    assert bad == []


@pytest.mark.parametrize("path", modules(ROOT / "tests"), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_property_test_asks_for_more_examples_than_the_profile_allows(path: Path) -> None:
    asked = [int(n) for n in re.findall(r"max_examples\s*=\s*(\d+)", path.read_text())]
    assert [n for n in asked if n > MAX_EXAMPLES] == []
