"""money exactly once: payment entry keys, reversals of payments and credit notes

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("entry_key", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("reversed_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("reversed_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("reversal_reason", sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_payments_entry_key"), ["entry_key"])
        batch_op.create_check_constraint(
            "reversed_holds_nothing", "reversed_on IS NULL OR unapplied_cents = 0"
        )
    with op.batch_alter_table("payment_allocations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_payment_allocations_amount_positive"), type_="check")
        batch_op.create_check_constraint("amount_not_zero", "amount_cents <> 0")
    with op.batch_alter_table("credit_notes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reverses_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reversed_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("reversed_by", sa.String(length=100), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_credit_notes_reverses_id"), ["reverses_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_credit_notes_reverses_id_credit_notes"), "credit_notes", ["reverses_id"], ["id"]
        )
        batch_op.drop_constraint(batch_op.f("ck_credit_notes_amount_positive"), type_="check")
        batch_op.create_check_constraint(
            "amount_sign", "amount_cents > 0 OR (amount_cents < 0 AND reverses_id IS NOT NULL)"
        )


def downgrade() -> None:
    with op.batch_alter_table("credit_notes", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_credit_notes_amount_sign"), type_="check")
        batch_op.create_check_constraint("amount_positive", "amount_cents > 0")
        batch_op.drop_constraint(batch_op.f("fk_credit_notes_reverses_id_credit_notes"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_credit_notes_reverses_id"), type_="unique")
        batch_op.drop_column("reversed_by")
        batch_op.drop_column("reversed_on")
        batch_op.drop_column("reverses_id")
    with op.batch_alter_table("payment_allocations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_payment_allocations_amount_not_zero"), type_="check")
        batch_op.create_check_constraint("amount_positive", "amount_cents > 0")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_payments_reversed_holds_nothing"), type_="check")
        batch_op.drop_constraint(batch_op.f("uq_payments_entry_key"), type_="unique")
        batch_op.drop_column("reversal_reason")
        batch_op.drop_column("reversed_by")
        batch_op.drop_column("reversed_on")
        batch_op.drop_column("entry_key")
