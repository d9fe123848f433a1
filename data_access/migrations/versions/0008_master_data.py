"""master data: voided invoices and the partner profile

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from data_access.models import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("voided_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("voided_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("void_reason", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("voided_amount_cents", sa.BigInteger(), nullable=True))
        batch_op.create_check_constraint(
            "voided_owes_nothing",
            "voided_on IS NULL OR (amount_cents = 0 AND open_cents = 0 AND voided_amount_cents IS NOT NULL)",
        )
    op.create_table(
        "partner_profile",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("tax_id", sa.String(length=50), nullable=True),
        sa.Column("contact_email", sa.String(length=254), nullable=True),
        sa.Column("contact_phone", sa.String(length=40), nullable=True),
        sa.Column("bank_name", sa.String(length=200), nullable=True),
        sa.Column("bank_account", sa.String(length=64), nullable=True),
        sa.Column("bank_bic", sa.String(length=11), nullable=True),
        sa.Column("payment_reference", sa.String(length=300), nullable=True),
        sa.Column("logo", sa.LargeBinary(), nullable=True),
        sa.Column("logo_type", sa.String(length=20), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_partner_profile_single_row")),
        sa.CheckConstraint(
            "logo IS NULL OR logo_type IN ('image/png', 'image/jpeg')",
            name=op.f("ck_partner_profile_logo_type_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_profile")),
    )


def downgrade() -> None:
    op.drop_table("partner_profile")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_invoices_voided_owes_nothing"), type_="check")
        batch_op.drop_column("voided_amount_cents")
        batch_op.drop_column("void_reason")
        batch_op.drop_column("voided_by")
        batch_op.drop_column("voided_on")
