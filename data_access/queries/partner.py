"""The partner's own details (one row): the name, address and tax id statements and reminders carry, and how
customers pay (remittance details)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from data_access.db import read_session
from data_access.models import PartnerProfile
from data_access.permissions import Actor, requires


@dataclass(frozen=True)
class PartnerDetails:
    name: str
    address: str | None = None
    tax_id: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    bank_name: str | None = None
    bank_account: str | None = None
    bank_bic: str | None = None
    payment_reference: str | None = None
    logo: bytes | None = None
    logo_type: str | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None

    @property
    def remittance_lines(self) -> tuple[str, ...]:
        """How to pay, one short line each: bank, account, BIC, the reference to quote; empty when not set."""
        lines = []
        if self.bank_name:
            lines.append(f"Bank: {self.bank_name}")
        if self.bank_account:
            what = "IBAN" if _looks_like_iban(self.bank_account) else "Account"
            lines.append(f"{what}: {self.bank_account}")
        if self.bank_bic:
            lines.append(f"BIC/SWIFT: {self.bank_bic}")
        if self.payment_reference:
            lines.append(f"Reference: {self.payment_reference}")
        return tuple(lines)

    @property
    def contact_line(self) -> str:
        return " · ".join(c for c in (self.contact_email, self.contact_phone) if c)


def _looks_like_iban(account: str) -> bool:
    compact = account.replace(" ", "")
    return len(compact) >= 15 and compact[:2].isalpha() and compact[2:4].isdigit()


def read_partner(session: Session) -> PartnerDetails | None:
    """The profile as stored, or None before anyone has set it (documents fall back to neutral wording)."""
    row = session.scalar(select(PartnerProfile).where(PartnerProfile.id == 1))
    if row is None:
        return None
    return PartnerDetails(
        name=row.name,
        address=row.address,
        tax_id=row.tax_id,
        contact_email=row.contact_email,
        contact_phone=row.contact_phone,
        bank_name=row.bank_name,
        bank_account=row.bank_account,
        bank_bic=row.bank_bic,
        payment_reference=row.payment_reference,
        logo=row.logo,
        logo_type=row.logo_type,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def load_partner() -> PartnerDetails | None:
    with read_session() as session:
        return read_partner(session)


@requires("policies.view")
def partner_profile(actor: Actor) -> PartnerDetails | None:
    """The partner profile for the Policies page (every signed-in user reads it; billing and global admins edit)."""
    return load_partner()
