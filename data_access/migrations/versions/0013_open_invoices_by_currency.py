"""ix_invoices_open_currency: the open invoices by currency and due date (a partial index), so today's aging summary
and the Overview's figures sum index ranges grouped in index order

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_invoices_open_currency",
        "invoices",
        ["currency", "due_date", "issue_date", "open_cents"],
        unique=False,
        sqlite_where=sa.text("open_cents > 0"),
        postgresql_where=sa.text("open_cents > 0"),
    )


def downgrade() -> None:
    op.drop_index("ix_invoices_open_currency", table_name="invoices")
