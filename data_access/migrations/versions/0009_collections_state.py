"""collections state and its history, the collections runs, the e-mail outbox and per-subject data versions

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 06:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from data_access.models import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "collections_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("host", sa.String(length=200), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("customers_assessed", sa.Integer(), nullable=False),
        sa.Column("stage_changes", sa.Integer(), nullable=False),
        sa.Column("messages_queued", sa.Integer(), nullable=False),
        sa.Column("messages_sent", sa.Integer(), nullable=False),
        sa.Column("messages_failed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collections_runs")),
    )
    with op.batch_alter_table("collections_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_collections_runs_as_of"), ["as_of"], unique=False)

    op.create_table(
        "subject_versions",
        sa.Column("subject", sa.String(length=40), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_subject_versions")),
    )
    op.create_table(
        "collection_stage_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=100), nullable=True),
        sa.Column("entered_on", sa.Date(), nullable=False),
        sa.Column("entered_because", sa.String(length=300), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=True),
        sa.Column("left_because", sa.String(length=300), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_collection_stage_changes_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_stage_changes")),
    )
    with op.batch_alter_table("collection_stage_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_collection_stage_changes_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            "uq_collection_stage_changes_one_open",
            ["customer_id"],
            unique=True,
            sqlite_where=sa.text("left_on IS NULL"),
            postgresql_where=sa.text("left_on IS NULL"),
        )

    op.create_table(
        "collection_states",
        sa.Column("customer_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("stage", sa.String(length=100), nullable=True),
        sa.Column("stage_entered_on", sa.Date(), nullable=True),
        sa.Column("clock_stage", sa.String(length=100), nullable=True),
        sa.Column("days_past_due", sa.Integer(), nullable=False),
        sa.Column("overdue_cents", sa.BigInteger(), nullable=False),
        sa.Column("disputed_cents", sa.BigInteger(), nullable=False),
        sa.Column("below_minimum", sa.Boolean(), nullable=False),
        sa.Column("oldest_invoice", sa.String(length=64), nullable=True),
        sa.Column("exempt", sa.Boolean(), nullable=False),
        sa.Column("due_now", sa.String(length=30), nullable=True),
        sa.Column("next_step", sa.String(length=100), nullable=True),
        sa.Column("next_step_on", sa.Date(), nullable=True),
        sa.Column("held_by_promise", sa.Boolean(), nullable=False),
        sa.Column("promise_until", sa.Date(), nullable=True),
        sa.Column("kept_promises", sa.Integer(), nullable=False),
        sa.Column("broken_promises", sa.Integer(), nullable=False),
        sa.Column("suspension_eligible", sa.Boolean(), nullable=False),
        sa.Column("suspension_eligible_on", sa.Date(), nullable=True),
        sa.Column("last_contact", sa.String(length=30), nullable=True),
        sa.Column("last_contact_on", sa.Date(), nullable=True),
        sa.Column("priority", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("days_past_due >= 0", name=op.f("ck_collection_states_days_not_negative")),
        sa.CheckConstraint(
            "overdue_cents >= 0 AND disputed_cents >= 0",
            name=op.f("ck_collection_states_amounts_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_collection_states_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_collection_states")),
    )
    with op.batch_alter_table("collection_states", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_collection_states_stage"), ["stage"], unique=False)

    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("activity_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("stage", sa.String(length=100), nullable=True),
        sa.Column("stage_entered_on", sa.Date(), nullable=True),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("sender", sa.String(length=254), nullable=False),
        sa.Column("recipients", sa.String(length=2000), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("attachment_name", sa.String(length=200), nullable=True),
        sa.Column("attachment_type", sa.String(length=100), nullable=True),
        sa.Column("attachment", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("delivered_via", sa.String(length=20), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'failed')", name=op.f("ck_outbox_messages_status_known")
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_messages_attempts_not_negative")),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["collections_activities.id"],
            name=op.f("fk_outbox_messages_activity_id_collections_activities"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_outbox_messages_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_outbox_messages_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
        sa.UniqueConstraint("key", name=op.f("uq_outbox_messages_key")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbox_messages_message_id")),
    )
    op.create_index(
        "ix_payments_reversed",
        "payments",
        ["reversed_on", "currency", "amount_cents"],
        unique=False,
        sqlite_where=sa.text("reversed_on IS NOT NULL"),
        postgresql_where=sa.text("reversed_on IS NOT NULL"),
    )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_messages_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_messages_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_messages_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    op.drop_index(
        "ix_payments_reversed",
        table_name="payments",
        sqlite_where=sa.text("reversed_on IS NOT NULL"),
        postgresql_where=sa.text("reversed_on IS NOT NULL"),
    )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_messages_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_outbox_messages_status"))
        batch_op.drop_index(batch_op.f("ix_outbox_messages_customer_id"))

    op.drop_table("outbox_messages")
    with op.batch_alter_table("collection_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_collection_states_stage"))

    op.drop_table("collection_states")
    with op.batch_alter_table("collection_stage_changes", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_collection_stage_changes_one_open",
            sqlite_where=sa.text("left_on IS NULL"),
            postgresql_where=sa.text("left_on IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_collection_stage_changes_customer_id"))

    op.drop_table("collection_stage_changes")
    op.drop_table("subject_versions")
    with op.batch_alter_table("collections_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_collections_runs_as_of"))

    op.drop_table("collections_runs")
