"""Audit events, added to the caller's session so they commit or roll back with the change they describe."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from data_access.models import AuditEvent
from data_access.permissions import Actor


def record_event(
    session: Session, actor: Actor, *, permission: str, target: str, details: dict[str, Any] | None = None
) -> AuditEvent:
    event = AuditEvent(
        actor=actor.username, roles=sorted(actor.roles), permission=permission, target=target, details=details
    )
    session.add(event)
    return event
