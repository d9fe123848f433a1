"""support by e-mail: each ticket's conversation (ticket_messages) and attachments, the messages taken from the
support mailbox once per Message-ID (received_mail), a reply's extra headers in the outbox, and tickets without a
customer (unknown senders, for triage)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-09 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from data_access.models import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _tickets_customer(nullable=True)
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("headers", sa.JSON(), nullable=True))

    op.create_table(
        "ticket_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("in_reply_to", sa.String(length=300), nullable=True),
        sa.Column("reference_ids", sa.Text(), nullable=True),
        sa.Column("sender", sa.String(length=500), nullable=True),
        sa.Column("reply_to", sa.String(length=500), nullable=True),
        sa.Column("recipients", sa.String(length=2000), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("dated_at", UTCDateTime(), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=True),
        sa.Column("outbox_message_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("direction IN ('in', 'out')", name=op.f("ck_ticket_messages_direction_known")),
        sa.CheckConstraint(
            "(direction = 'out') = (outbox_message_id IS NOT NULL)",
            name=op.f("ck_ticket_messages_replies_go_through_the_outbox"),
        ),
        sa.ForeignKeyConstraint(
            ["outbox_message_id"],
            ["outbox_messages.id"],
            name=op.f("fk_ticket_messages_outbox_message_id_outbox_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_messages_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_messages")),
        sa.UniqueConstraint("message_id", name=op.f("uq_ticket_messages_message_id")),
        sa.UniqueConstraint("outbox_message_id", name=op.f("uq_ticket_messages_outbox_message_id")),
    )
    with op.batch_alter_table("ticket_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_messages_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "ticket_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_message_id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("path", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "(content IS NULL) <> (path IS NULL)", name=op.f("ck_ticket_attachments_content_or_path")
        ),
        sa.CheckConstraint("size_bytes >= 0", name=op.f("ck_ticket_attachments_size_not_negative")),
        sa.ForeignKeyConstraint(
            ["ticket_message_id"],
            ["ticket_messages.id"],
            name=op.f("fk_ticket_attachments_ticket_message_id_ticket_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_attachments")),
    )
    with op.batch_alter_table("ticket_attachments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ticket_attachments_ticket_message_id"), ["ticket_message_id"], unique=False
        )

    op.create_table(
        "received_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("taken_at", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("sender", sa.String(length=500), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('ticket', 'reply', 'refused')", name=op.f("ck_received_mail_outcome_known")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_received_mail_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_received_mail")),
        sa.UniqueConstraint("message_id", name=op.f("uq_received_mail_message_id")),
    )
    with op.batch_alter_table("received_mail", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_received_mail_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("received_mail", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_received_mail_ticket_id"))
    op.drop_table("received_mail")
    with op.batch_alter_table("ticket_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_attachments_ticket_message_id"))
    op.drop_table("ticket_attachments")
    with op.batch_alter_table("ticket_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_messages_ticket_id"))
    op.drop_table("ticket_messages")
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_column("headers")
    triage = "SELECT id FROM tickets WHERE customer_id IS NULL"
    op.execute(f"UPDATE outbox_messages SET ticket_id = NULL WHERE ticket_id IN ({triage})")
    op.execute(
        f"DELETE FROM tickets WHERE id IN ({triage}) AND id NOT IN (SELECT ticket_id FROM escalations)"
    )
    _tickets_customer(nullable=False)


def _tickets_customer(*, nullable: bool) -> None:
    """tickets.customer_id NULL or NOT NULL. SQLite cannot change a column: batch mode copies the table and drops
    the old one, and that drop would orphan the escalations and outbox messages that name a ticket. So the rows
    are set aside, the empty table is rebuilt, and the rows put back under their ids, with foreign keys checked
    at the commit, when every ticket is back."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("PRAGMA defer_foreign_keys = ON")
        op.execute("CREATE TABLE _tickets_before_0010 AS SELECT * FROM tickets")
        op.execute("DELETE FROM tickets")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.alter_column("customer_id", existing_type=sa.Integer(), nullable=nullable)
    if sqlite:
        columns = ", ".join(column["name"] for column in sa.inspect(op.get_bind()).get_columns("tickets"))
        op.execute(f"INSERT INTO tickets ({columns}) SELECT {columns} FROM _tickets_before_0010")
        op.execute("DROP TABLE _tickets_before_0010")
