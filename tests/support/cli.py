"""Running `python -m data_access` in-process, as a user would from a shell."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.environment import ROOT


def cli(*args: str, database_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "data_access", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
