"""The demo users as actors (their usernames are those in auth.yaml), one per role, and one with no role."""

from __future__ import annotations

from data_access.permissions import (
    BILLING_ADMIN,
    GLOBAL_ADMIN,
    HELPDESK_AGENT,
    SALES_AGENT,
    USER_MANAGEMENT_ADMIN,
    Actor,
)

ADMIN = Actor.of("admin", [GLOBAL_ADMIN])
USERMGR = Actor.of("usermgr", [USER_MANAGEMENT_ADMIN])
HELPDESK = Actor.of("helpdesk", [HELPDESK_AGENT])
BILLING = Actor.of("billing", [BILLING_ADMIN])
SALES = Actor.of("sales", [SALES_AGENT])
NOBODY = Actor.of("nobody", [])
