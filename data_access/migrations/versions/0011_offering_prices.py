"""the support offering's prices as exact amounts: support_offerings.pricing_rates, a JSON list of
{"item", "currency", "amount" (a decimal string), "unit"} beside the pricing text

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("support_offerings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pricing_rates", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("support_offerings", schema=None) as batch_op:
        batch_op.drop_column("pricing_rates")
