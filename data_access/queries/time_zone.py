"""The partner's time zone: the support offering's, in which every page shows times (UTC until an offering is set
up). One zone throughout, so "2026-12-02 10:08 America/New_York" means the same on every page."""

from __future__ import annotations

from sqlalchemy import select

from data_access.db import read_session
from data_access.models import SupportOffering


def partner_time_zone() -> str:
    """The support offering's time zone name (an IANA key such as "America/New_York"), or "UTC" without one."""
    with read_session() as session:
        zone = session.scalar(select(SupportOffering.time_zone).order_by(SupportOffering.id).limit(1))
    return zone or "UTC"
