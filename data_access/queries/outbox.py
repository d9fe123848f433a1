"""The outbox as the pages read it: e-mail not delivered (queued after a failure, failed, stuck), and a customer's
e-mails with their delivery state beside the rest of their collections activity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import and_, or_, select

from data_access import ledger
from data_access.db import read_session
from data_access.models import Customer, OutboxMessage
from data_access.money import moment
from data_access.permissions import Actor, requires
from data_access.queries.collections import ACTIVITY_COLUMNS, activities
from data_access.text import plural

UNDELIVERED_COLUMNS = [
    "message",
    "customer_id",
    "customer_name",
    "to",
    "subject",
    "status",
    "attempts",
    "last_error",
    "next_attempt_at",
    "created_at",
]
_STUCK_AFTER = timedelta(minutes=15)  # as the deliverer counts it (mail.outbox.STUCK_AFTER)


@requires("collections.view")
def undelivered(actor: Actor, *, limit: int = 200) -> pd.DataFrame:
    """E-mail that has not reached its server: failed for good, waiting for a retry after a failure, or stuck in
    sending (a deliverer died); oldest first, with the server's last reply."""
    stuck = datetime.now(UTC) - _STUCK_AFTER
    query = (
        select(OutboxMessage, Customer.external_id, Customer.name)
        .outerjoin(Customer, Customer.id == OutboxMessage.customer_id)
        .where(
            or_(
                OutboxMessage.status == "failed",
                and_(OutboxMessage.status == "queued", OutboxMessage.attempts > 0),
                and_(OutboxMessage.status == "sending", OutboxMessage.last_attempt_at < stuck),
            )
        )
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
        .limit(limit)
    )
    with read_session() as session:
        rows = [
            {
                "message": message.id,
                "customer_id": external_id,
                "customer_name": name,
                "to": message.recipients,
                "subject": message.subject,
                "status": message.status,
                "attempts": message.attempts,
                "last_error": message.last_error,
                "next_attempt_at": message.next_attempt_at if message.status == "queued" else None,
                "created_at": message.created_at,
            }
            for message, external_id, name in session.execute(query)
        ]
    return pd.DataFrame(rows, columns=UNDELIVERED_COLUMNS)


def delivery_state(message: OutboxMessage) -> str:
    """Where one e-mail stands, in words: sent (how and when), waiting for a retry (the reply, the next try),
    failed (the reply), being sent, or queued."""
    if message.status == "sent":
        how = "written to the outbox folder" if message.delivered_via == "folder" else "sent"
        return f"{how} {moment(message.sent_at)}" if message.sent_at else how
    if message.status == "failed":
        return f"failed after {plural(message.attempts, 'attempt')}: {message.last_error}"
    if message.status == "sending":
        return "being sent"
    if message.last_error:
        return f"not delivered yet ({message.last_error}); next try {moment(message.next_attempt_at)}"
    return "queued"


@requires("collections.view")
def customer_messages(actor: Actor, *, customer_id: str, limit: int = 20) -> pd.DataFrame:
    """The customer's e-mails, newest first, as rows of their collections activity: when (sent, last tried or
    queued), "e-mail", who queued it, and the subject, address and delivery state."""
    with read_session() as session:
        customer = ledger.customer_by_external_id(session, customer_id)
        messages = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.customer_id == customer.id)
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .limit(limit)
        )
        rows: list[dict[str, Any]] = [
            {
                "occurred_at": message.sent_at or message.last_attempt_at or message.created_at,
                "kind": "e-mail",
                "actor": message.created_by,
                "invoice_number": None,
                "notes": f"{message.subject} · to {message.recipients} · {delivery_state(message)}",
                "promised_amount": None,
                "promised_for": None,
                "details": None,
            }
            for message in messages
        ]
    return pd.DataFrame(rows, columns=ACTIVITY_COLUMNS)


@requires("collections.view")
def activities_with_messages(actor: Actor, *, customer_id: str, limit: int = 20) -> pd.DataFrame:
    """The customer's collections activity (`queries.collections.activities`) with their e-mails and each one's
    delivery state among it, newest first."""
    history = activities(actor, customer_id=customer_id, limit=limit)
    messages = customer_messages(actor, customer_id=customer_id, limit=limit)
    if messages.empty:
        return history
    if history.empty:
        return messages
    both = pd.concat([history, messages], ignore_index=True)
    newest_first = sorted(range(len(both)), key=lambda row: both.occurred_at[row], reverse=True)
    return both.iloc[newest_first[:limit]].reset_index(drop=True)
