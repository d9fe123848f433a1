"""The collections policy as stored data: read it, save an edit of it, and render the statement customers read;
and the support offering.

Saving replaces the policy's stages in one transaction with its audit event, after the engine's validation
(`policy.validate_policy`) and the money rules (`money.to_cents`) both pass; a refused edit writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from data_access.db import read_session
from data_access.enums import Severity
from data_access.models import CollectionsPolicy, Holiday, SupportOffering, SupportTarget
from data_access.permissions import Actor, requires
from data_access.queries.assessments import load_policy
from data_access.rules import policy

WEEKDAYS: tuple[tuple[str, str], ...] = (
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
)


_SEVERITY_ORDER = {severity.value: index for index, severity in enumerate(Severity)}


@dataclass(frozen=True)
class PolicyView:
    """The stored policy: its name, the engine's rules, the statement's introduction and who changed it last."""

    name: str
    policy: policy.Policy
    statement_intro: str
    updated_at: datetime | None
    updated_by: str | None


@dataclass(frozen=True)
class ContactMethod:
    method: str
    value: str
    availability: str


@dataclass(frozen=True)
class ResponseTarget:
    severity: str
    first_response_hours: int
    resolution_hours: int


@dataclass(frozen=True)
class PriceRate:
    """One price of the offering: an exact amount in a currency for a unit ("hour", "incident")."""

    item: str
    currency: str
    amount: Decimal
    unit: str


@dataclass(frozen=True)
class OfferingSettings:
    """Everything a billing admin sets in the support offering; `business_hours` maps each weekday key ("mon") to
    (opening, closing) or None when closed."""

    name: str
    time_zone: str
    business_hours: dict[str, tuple[str, str] | None]
    holidays: tuple[tuple[date, str], ...]
    targets: tuple[ResponseTarget, ...]
    entitlements: tuple[str, ...]
    contact_methods: tuple[ContactMethod, ...]
    pricing: str
    pricing_rates: tuple[PriceRate, ...]


@dataclass(frozen=True)
class SupportOfferingView:
    """The support offering; `business_hours` lists every weekday, with (start, end) or None when closed."""

    name: str
    time_zone: str
    business_hours: tuple[tuple[str, tuple[str, str] | None], ...]
    holidays: tuple[tuple[date, str], ...]
    contact_methods: tuple[ContactMethod, ...]
    pricing: str
    targets: tuple[ResponseTarget, ...]
    entitlements: tuple[str, ...]
    updated_at: datetime | None
    updated_by: str | None
    pricing_rates: tuple[PriceRate, ...] = ()

    def settings(self) -> OfferingSettings:
        """The offering as it would be saved again unchanged."""
        by_label = {label: key for key, label in WEEKDAYS}
        return OfferingSettings(
            name=self.name,
            time_zone=self.time_zone,
            business_hours={by_label[label]: span for label, span in self.business_hours},
            holidays=self.holidays,
            targets=self.targets,
            entitlements=self.entitlements,
            contact_methods=self.contact_methods,
            pricing=self.pricing,
            pricing_rates=self.pricing_rates,
        )


def _policy_row(session: Session) -> CollectionsPolicy | None:
    return session.scalar(select(CollectionsPolicy).order_by(CollectionsPolicy.id).limit(1))


@requires("policies.view")
def current_policy(actor: Actor) -> PolicyView | None:
    """The partner's collections policy as stored, or None when none has been set up yet."""
    with read_session() as session:
        row = _policy_row(session)
        if row is None:
            return None
        return PolicyView(
            name=row.name,
            policy=load_policy(session),
            statement_intro=row.statement_intro or "",
            updated_at=row.updated_at,
            updated_by=row.updated_by,
        )


def _offering() -> SupportOfferingView | None:
    with read_session() as session:
        row = session.scalar(select(SupportOffering).order_by(SupportOffering.id).limit(1))
        if row is None:
            return None
        targets = session.scalars(select(SupportTarget).where(SupportTarget.offering_id == row.id)).all()
        days = session.execute(
            select(Holiday.day, Holiday.name).where(Holiday.offering_id == row.id).order_by(Holiday.day)
        ).all()
        hours = row.business_hours or {}
        return SupportOfferingView(
            name=row.name,
            time_zone=row.time_zone,
            business_hours=tuple(
                (label, (str(hours[key][0]), str(hours[key][1])) if hours.get(key) else None)
                for key, label in WEEKDAYS
            ),
            holidays=tuple((day, name) for day, name in days),
            contact_methods=tuple(
                ContactMethod(
                    method=str(c.get("method", "")),
                    value=str(c.get("value", "")),
                    availability=str(c.get("availability") or ""),
                )
                for c in row.contact_methods or []
            ),
            pricing=row.pricing or "",
            targets=tuple(
                ResponseTarget(
                    severity=t.severity,
                    first_response_hours=t.first_response_hours,
                    resolution_hours=t.resolution_hours,
                )
                for t in sorted(targets, key=lambda t: _SEVERITY_ORDER.get(t.severity, len(_SEVERITY_ORDER)))
            ),
            entitlements=tuple(str(e) for e in row.entitlements or []),
            updated_at=row.updated_at,
            updated_by=row.updated_by,
            pricing_rates=tuple(
                PriceRate(
                    item=str(r.get("item", "")),
                    currency=str(r.get("currency", "")),
                    amount=Decimal(str(r.get("amount", "0"))),
                    unit=str(r.get("unit") or ""),
                )
                for r in row.pricing_rates or []
            ),
        )


@requires("policies.view")
def support_offering(actor: Actor) -> SupportOfferingView | None:
    """The partner's support offering (hours, holidays, contacts, pricing, targets, entitlements)."""
    return _offering()
