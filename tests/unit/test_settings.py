"""Settings are read from the environment in data_access/config.py only, with their defaults, and a value that
cannot be used is refused with a sentence naming the variable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from data_access.config import PROJECT_ROOT, InvalidSetting, default_database_url, settings

VARIABLES = (
    "DATABASE_URL", "DATABASE_READ_URL", "BILLING_DESK_AUTH_FILE", "BILLING_DESK_ENV", "BILLING_DESK_COOKIE_KEY",
    "BILLING_DESK_SESSION_DAYS", "BILLING_DESK_LOGIN_DELAY", "BILLING_DESK_MAX_ATTEMPTS",
    "BILLING_DESK_LOCKOUT_MINUTES", "BILLING_DESK_STATEMENT_TIMEOUT", "BILLING_DESK_AGING_BUCKETS",
)  # fmt: skip


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_run_the_demo_on_sqlite(clean_environment: pytest.MonkeyPatch) -> None:
    current = settings()
    assert current.database_url == default_database_url() and current.database_read_url is None
    assert current.auth_file == PROJECT_ROOT / "auth.yaml" and current.environment == "development"
    assert current.cookie_key is None and current.session_days is None and current.aging_buckets is None
    assert (current.login_delay_seconds, current.max_login_attempts, current.lockout_minutes) == (0.7, 5, 15)
    assert current.statement_timeout_seconds == 60


def test_every_variable_sets_its_field(clean_environment: pytest.MonkeyPatch, tmp_path: Path) -> None:
    values = {
        "DATABASE_URL": "postgresql+psycopg://app@db/billing",
        "DATABASE_READ_URL": "postgresql+psycopg://app@replica/billing",
        "BILLING_DESK_AUTH_FILE": str(tmp_path / "auth.yaml"),
        "BILLING_DESK_ENV": "production",
        "BILLING_DESK_COOKIE_KEY": "k" * 40,
        "BILLING_DESK_SESSION_DAYS": "0.5",
        "BILLING_DESK_LOGIN_DELAY": "0",
        "BILLING_DESK_MAX_ATTEMPTS": "3",
        "BILLING_DESK_LOCKOUT_MINUTES": "30",
        "BILLING_DESK_STATEMENT_TIMEOUT": "5",
        "BILLING_DESK_AGING_BUCKETS": "15,45",
    }
    for name, value in values.items():
        clean_environment.setenv(name, value)
    current = settings()
    assert (current.database_url, current.database_read_url) == (
        values["DATABASE_URL"],
        values["DATABASE_READ_URL"],
    )
    assert current.auth_file == tmp_path / "auth.yaml" and current.environment == "production"
    assert current.cookie_key == "k" * 40 and current.session_days == 0.5 and current.login_delay_seconds == 0
    assert (current.max_login_attempts, current.lockout_minutes, current.statement_timeout_seconds) == (
        3,
        30,
        5,
    )
    assert current.aging_buckets == "15,45"


def test_an_empty_variable_counts_as_unset(clean_environment: pytest.MonkeyPatch) -> None:
    unset = settings()
    for name in VARIABLES:
        clean_environment.setenv(name, "")
    assert settings() == unset


@pytest.mark.parametrize(
    ("name", "value", "sentence"),
    [
        ("BILLING_DESK_MAX_ATTEMPTS", "five", "BILLING_DESK_MAX_ATTEMPTS is 'five'; set it to a whole number of "
                                              "attempts, 1 or more (default 5)."),
        ("BILLING_DESK_MAX_ATTEMPTS", "0", "BILLING_DESK_MAX_ATTEMPTS is '0'"),
        ("BILLING_DESK_LOCKOUT_MINUTES", "-1", "a whole number of minutes, 1 or more (default 15)"),
        ("BILLING_DESK_LOCKOUT_MINUTES", "1.5", "BILLING_DESK_LOCKOUT_MINUTES is '1.5'"),
        ("BILLING_DESK_STATEMENT_TIMEOUT", "٣", "a whole number of seconds"),
        ("BILLING_DESK_LOGIN_DELAY", "slow", "BILLING_DESK_LOGIN_DELAY is 'slow'; set it to a number of seconds, "
                                             "0 or more."),
        ("BILLING_DESK_LOGIN_DELAY", "-0.5", "BILLING_DESK_LOGIN_DELAY is '-0.5'"),
        ("BILLING_DESK_LOGIN_DELAY", "inf", "BILLING_DESK_LOGIN_DELAY is 'inf'"),
        ("BILLING_DESK_SESSION_DAYS", "0", "BILLING_DESK_SESSION_DAYS is '0'; set it to a number of days above 0."),
        ("BILLING_DESK_SESSION_DAYS", "nan", "BILLING_DESK_SESSION_DAYS is 'nan'"),
        ("BILLING_DESK_ENV", "prod", "BILLING_DESK_ENV is 'prod'; set it to development or production."),
    ],
)  # fmt: skip
def test_a_value_that_cannot_be_used_is_refused_by_name(
    clean_environment: pytest.MonkeyPatch, name: str, value: str, sentence: str
) -> None:
    clean_environment.setenv(name, value)
    with pytest.raises(InvalidSetting, match=re.escape(sentence)):
        settings()


ALLOWED = {"data_access/config.py"}
SEARCHED = ("data_access", "ui", "app_pages", "dashboard.py")
READS = re.compile(r"\bos\.environ\b|\bos\.getenv\b|\bgetenv\(|from os import[^\n]*\b(environ|getenv)\b")


def test_settings_are_read_from_the_environment_in_config_only() -> None:
    files = [
        path
        for top in SEARCHED
        for path in (
            [PROJECT_ROOT / top] if top.endswith(".py") else sorted((PROJECT_ROOT / top).rglob("*.py"))
        )
        if path.exists()
    ]
    assert any(path.name == "config.py" for path in files)
    reads = [
        f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}"
        for path in files
        if str(path.relative_to(PROJECT_ROOT)) not in ALLOWED
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if READS.search(line)
    ]
    assert reads == []
