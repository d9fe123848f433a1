"""Saving the partner profile: the partner's name, address, tax id, contact, remittance details and logo (one row),
checked, audited, in one transaction."""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import replace

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select

from data_access.audit import PartnerProfileSaved, PartnerRecord, record_event
from data_access.checks import clean_text, valid_email
from data_access.db import transaction
from data_access.errors import InvalidAction
from data_access.models import PartnerProfile, utcnow
from data_access.permissions import Actor, requires
from data_access.queries.partner import PartnerDetails, read_partner

MAX_LOGO_BYTES = 200 * 1024
"""A logo is a small image printed on statements; anything larger is refused, not shrunk."""
MAX_LOGO_PIXELS = 4000
_MAGIC = {b"\x89PNG\r\n\x1a\n": ("image/png", "PNG"), b"\xff\xd8\xff": ("image/jpeg", "JPEG")}
_PHONE = re.compile(r"\+?[0-9 ()./-]{4,40}")
_BIC = re.compile(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")
_ACCOUNT = re.compile(r"[A-Za-z0-9 -]{4,64}")


def logo_type(data: bytes) -> str:
    """image/png or image/jpeg, by the file's first bytes and a full decode; refused with a sentence otherwise."""
    if len(data) > MAX_LOGO_BYTES:
        raise InvalidAction(
            f"The logo is {len(data) / 1024:,.0f} KB; the largest is {MAX_LOGO_BYTES // 1024} KB. Use a smaller image."
        )
    found = next(((mime, fmt) for magic, (mime, fmt) in _MAGIC.items() if data.startswith(magic)), None)
    if found is None:
        raise InvalidAction("The logo must be a PNG or JPEG image; this file is neither.")
    mime, fmt = found
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != fmt:
                raise InvalidAction("The logo must be a PNG or JPEG image; this file is neither.")
            if max(image.size) > MAX_LOGO_PIXELS:
                raise InvalidAction(f"The logo is {image.size[0]}x{image.size[1]} pixels; keep it under "
                                    f"{MAX_LOGO_PIXELS} on each side.")  # fmt: skip
            image.load()
    except InvalidAction:
        raise
    except Image.DecompressionBombError:
        raise InvalidAction(
            f"The logo claims to be larger than {MAX_LOGO_PIXELS} pixels on a side; use a smaller image."
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise InvalidAction("The logo file is damaged: it starts like an image but cannot be read.") from None
    return mime


def iban_valid(value: str) -> bool:
    """ISO 13616: country code, two check digits, up to 30 letters or digits, mod 97 = 1."""
    compact = value.replace(" ", "").upper()
    if not (15 <= len(compact) <= 34 and compact.isalnum() and compact.isascii()):
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in moved)) % 97 == 1


def _checked(details: PartnerDetails) -> PartnerDetails:
    """The profile trimmed and checked; InvalidAction naming every problem otherwise."""
    problems: list[str] = []

    def text(value: str | None, what: str, limit: int, *, multiline: bool = False) -> str | None:
        try:
            return clean_text(value, what, limit, multiline=multiline)
        except InvalidAction as exc:
            problems.append(str(exc))
            return None

    name = text(details.name, "The partner name", 200)
    if not name and not any("partner name" in p for p in problems):
        problems.append("Give the partner's name: statements and reminders are signed with it.")
    email = text(details.contact_email, "The contact e-mail", 254)
    if email and not valid_email(email):
        problems.append(f"The contact e-mail {email[:60]!r} is not an e-mail address.")
    phone = text(details.contact_phone, "The contact phone", 40)
    if phone and not _PHONE.fullmatch(phone):
        problems.append("The contact phone may hold digits, spaces, + ( ) . / - only.")
    account = text(details.bank_account, "The IBAN or account number", 64)
    if account:
        compact = account.replace(" ", "")
        if compact[:2].isalpha() and compact[2:4].isdigit():
            if not iban_valid(account):
                problems.append(
                    f"The IBAN {account!r} is not valid (its check digits do not match); check it."
                )
            account = " ".join(compact.upper()[i : i + 4] for i in range(0, len(compact), 4))
        elif not _ACCOUNT.fullmatch(account):
            problems.append("The account number may hold letters, digits, spaces and dashes only.")
    bic = text(details.bank_bic, "The BIC", 11)
    if bic:
        bic = bic.upper()
        if not _BIC.fullmatch(bic):
            problems.append(
                f"The BIC {bic!r} is not a BIC/SWIFT code (8 or 11 letters and digits, e.g. DEUTDEFF)."
            )
    cleaned = PartnerDetails(
        name=name or "",
        address=text(details.address, "The address", 500, multiline=True),
        tax_id=text(details.tax_id, "The tax id", 50),
        contact_email=email,
        contact_phone=phone,
        bank_name=text(details.bank_name, "The bank's name", 200),
        bank_account=account,
        bank_bic=bic,
        payment_reference=text(details.payment_reference, "The payment reference instructions", 300),
    )
    if problems:
        raise InvalidAction(" ".join(problems))
    return cleaned


def _record(details: PartnerDetails) -> PartnerRecord:
    logo = None
    if details.logo:
        digest = hashlib.sha256(details.logo).hexdigest()[:16]
        logo = f"{details.logo_type}, {len(details.logo):,} bytes, sha256 {digest}"
    return PartnerRecord(
        name=details.name, address=details.address, tax_id=details.tax_id, contact_email=details.contact_email,
        contact_phone=details.contact_phone, bank_name=details.bank_name, bank_account=details.bank_account,
        bank_bic=details.bank_bic, payment_reference=details.payment_reference, logo=logo,
    )  # fmt: skip


@requires("policies.edit")
def save_partner_profile(
    actor: Actor, *, details: PartnerDetails, logo: bytes | None = None, remove_logo: bool = False
) -> None:
    """Replace the profile's text with `details` (a new logo when given, none when `remove_logo`, else the logo
    kept), with an audit event holding before and after. Refused with sentences, nothing written, when invalid."""
    cleaned = _checked(details)
    new_logo = (logo, logo_type(logo)) if logo else None
    with transaction() as session:
        row = session.scalar(select(PartnerProfile).where(PartnerProfile.id == 1).with_for_update())
        before = read_partner(session) if row is not None else None
        if row is None:
            row = PartnerProfile(id=1, name=cleaned.name)
            session.add(row)
        for field in ("name", "address", "tax_id", "contact_email", "contact_phone", "bank_name", "bank_account",
                      "bank_bic", "payment_reference"):  # fmt: skip
            setattr(row, field, getattr(cleaned, field))
        if new_logo is not None:
            row.logo, row.logo_type = new_logo
        elif remove_logo:
            row.logo, row.logo_type = None, None
        row.updated_at, row.updated_by = utcnow(), actor.username
        session.flush()
        after = replace(cleaned, logo=row.logo, logo_type=row.logo_type)
        record_event(
            session,
            actor,
            PartnerProfileSaved(before=None if before is None else _record(before), after=_record(after)),
            target="partner-profile",
        )
