"""exchange_rates, partner_center_imports and partner_center_lines: exchange rates to the reporting currency and
Partner Center's reconciliation files (what Microsoft bills the partner), for margin and leakage; customers by
tenant id, as the files name them

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 15:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SOURCE_KNOWN = "source IN ('invoice', 'usage')"


def upgrade() -> None:
    op.create_index(op.f("ix_customers_tenant_id"), "customers", ["tenant_id"], unique=False)
    op.create_table(
        "exchange_rates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rate_date", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("rate", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_rates")),
        sa.UniqueConstraint("currency", "rate_date", name="uq_exchange_rates_currency_day"),
    )
    op.create_table(
        "partner_center_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=300), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("replaced", sa.Integer(), nullable=False),
        sa.Column("imported_by", sa.String(length=100), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(SOURCE_KNOWN, name=op.f("ck_partner_center_imports_source_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_center_imports")),
        sa.UniqueConstraint("source", "sha256", name="uq_partner_center_imports_file"),
    )
    op.create_table(
        "partner_center_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("invoice_number", sa.String(length=64), nullable=True),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("customer_tenant", sa.String(length=36), nullable=False),
        sa.Column("customer_name", sa.String(length=200), nullable=True),
        sa.Column("customer_domain", sa.String(length=253), nullable=True),
        sa.Column("reseller_mpn_id", sa.String(length=40), nullable=True),
        sa.Column("subscription_ref", sa.String(length=64), nullable=True),
        sa.Column("product_name", sa.String(length=300), nullable=True),
        sa.Column("sku_name", sa.String(length=300), nullable=True),
        sa.Column("meter_name", sa.String(length=300), nullable=True),
        sa.Column("charge_type", sa.String(length=40), nullable=True),
        sa.Column("charge_start", sa.Date(), nullable=True),
        sa.Column("charge_end", sa.Date(), nullable=True),
        sa.Column("usage_date", sa.Date(), nullable=True),
        sa.Column("quantity_units", sa.BigInteger(), nullable=True),
        sa.Column("unit_price", sa.String(length=40), nullable=True),
        sa.Column("cost_units", sa.BigInteger(), nullable=False),
        sa.Column("tax_units", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reference_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint(SOURCE_KNOWN, name=op.f("ck_partner_center_lines_source_known")),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["partner_center_imports.id"],
            name=op.f("fk_partner_center_lines_import_id_partner_center_imports"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_center_lines")),
    )
    op.create_index(
        op.f("ix_partner_center_lines_import_id"), "partner_center_lines", ["import_id"], unique=False
    )
    op.create_index(
        "ix_partner_center_lines_tenant_period", "partner_center_lines", ["customer_tenant", "period"]
    )
    op.create_index("ix_partner_center_lines_period", "partner_center_lines", ["period", "source"])
    op.create_index("ix_partner_center_lines_subscription", "partner_center_lines", ["subscription_ref"])
    op.create_index("ix_partner_center_lines_invoice", "partner_center_lines", ["invoice_number"])


def downgrade() -> None:
    op.drop_table("partner_center_lines")
    op.drop_table("partner_center_imports")
    op.drop_table("exchange_rates")
    op.drop_index(op.f("ix_customers_tenant_id"), table_name="customers")
