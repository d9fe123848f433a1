"""Pages read as a description of the UI: no cache wrappers of their own, no session keys of their own, no
formatters of their own (ui/ and data_access.money hold them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.environment import ROOT
from ui import session_keys

PAGE_FILES = sorted((ROOT / "app_pages").glob("*.py"))
SHARED_FILES = [*PAGE_FILES, ROOT / "dashboard.py", *sorted((ROOT / "ui").glob("*.py"))]
KEYS = {value for name, value in vars(session_keys).items() if name.isupper() and isinstance(value, str)}
LITERAL_KEY = re.compile(r"""session_state(?:\[|\.(?:get|pop|setdefault)\()\s*(?:f?["'])""")
ANY_KEY = re.compile(r"""session_state(?:\[|\.(?:get|pop|setdefault)\()\s*([A-Za-z_][A-Za-z_0-9.]*)""")


def names(paths: list[Path]) -> list[str]:
    return [str(path.relative_to(ROOT)) for path in paths]


@pytest.mark.parametrize("path", PAGE_FILES, ids=names(PAGE_FILES))
def test_a_page_keeps_no_cache_of_its_own(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "cache_data" not in text and "cache_resource" not in text and "@cached" not in text


@pytest.mark.parametrize("path", SHARED_FILES, ids=names(SHARED_FILES))
def test_session_state_is_read_only_through_the_keys_module(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not LITERAL_KEY.search(text), "a literal session-state key: add it to ui/session_keys.py"
    for key in ANY_KEY.findall(text):
        constant = key.rsplit(".", 1)[-1]
        assert constant.isupper() and getattr(session_keys, constant, None) in KEYS, key


@pytest.mark.parametrize("path", PAGE_FILES, ids=names(PAGE_FILES))
def test_a_page_formats_money_and_days_with_the_one_formatter(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert ":,.2f" not in text and "def money(" not in text and "def amount(" not in text
    python_lines = [
        line for line in text.splitlines() if "tickformat" not in line
    ]  # plotly's own axis format
    assert not re.search(r"%d %b|%b %Y|%d %B|%H:%M", "\n".join(python_lines)), (
        "use data_access.money.day/moment"
    )
