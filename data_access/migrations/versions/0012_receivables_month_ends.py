"""receivables_month_ends: what was open and overdue at each past month end per currency, for the Overview's trend
(empty at first: the first reader fills it)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 13:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "receivables_month_ends",
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("month_end", sa.Date(), nullable=False),
        sa.Column("open_cents", sa.BigInteger(), nullable=False),
        sa.Column("overdue_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("currency", "month_end", name=op.f("pk_receivables_month_ends")),
    )


def downgrade() -> None:
    op.drop_table("receivables_month_ends")
