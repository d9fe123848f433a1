"""Where the tests run: the project root, whether this is CI, the PostgreSQL test database."""

from __future__ import annotations

import os
from pathlib import Path

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")


POSTGRES_HINT = (
    "PostgreSQL tests need TEST_DATABASE_URL, e.g. "
    "createdb bd_test && TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bd_test make test"
)


# Every property test runs under this profile (DESIGN.md, tests on 2 cores): no deadline, at most 100 examples,
# derandomized in CI so a run there is repeatable; a test may ask for fewer, never more.
MAX_EXAMPLES = 100


ROOT = Path(__file__).resolve().parents[2]
