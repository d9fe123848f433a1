"""The one table that says which Partner Center roles hold which permission; nothing else interprets roles."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Concatenate, ParamSpec, TypeVar

GLOBAL_ADMIN = "Global admin"
USER_MANAGEMENT_ADMIN = "User management admin"
HELPDESK_AGENT = "Helpdesk agent"
BILLING_ADMIN = "Billing admin"
SALES_AGENT = "Sales agent"

ROLES: tuple[str, ...] = (GLOBAL_ADMIN, USER_MANAGEMENT_ADMIN, HELPDESK_AGENT, BILLING_ADMIN, SALES_AGENT)

_ALL = frozenset(ROLES)
_G, _U, _H, _B, _S = GLOBAL_ADMIN, USER_MANAGEMENT_ADMIN, HELPDESK_AGENT, BILLING_ADMIN, SALES_AGENT

PERMISSIONS: dict[str, frozenset[str]] = {
    "overview.view": frozenset({_G, _H, _B, _S}),
    "receivables.view": frozenset({_G, _B, _S}),
    "receivables.export": frozenset({_G, _B, _S}),
    "collections.view": frozenset({_G, _B}),
    "collections.act": frozenset({_G, _B}),
    "payment.record": frozenset({_G, _B}),
    "credit_note.issue": frozenset({_G, _B}),
    "payment.reverse": frozenset({_G, _B}),
    "credit_note.reverse": frozenset({_G, _B}),
    "credit.apply": frozenset({_G, _B}),
    "subscription.suspend": frozenset({_G, _B}),
    "subscription.reinstate": frozenset({_G, _B}),
    "tickets.view": frozenset({_G, _H, _B, _S}),
    "ticket.create": frozenset({_G, _H, _B}),
    "ticket.update": frozenset({_G, _H, _B}),
    "ticket.escalate": frozenset({_G, _H, _B}),
    "escalations.view": frozenset({_G, _H, _B}),
    "customers.view": frozenset({_G, _H, _B, _S}),
    "customer.edit": frozenset({_G, _B}),
    "invoice.edit": frozenset({_G, _B}),
    "payables.view": frozenset({_G, _B}),
    "margin.view": frozenset({_G, _B}),
    "policies.view": _ALL,
    "policies.edit": frozenset({_G, _B}),
    "data.import": frozenset({_G, _B}),
    "users.manage": frozenset({_G, _U}),
    "audit.view": frozenset({_G, _B}),
}


class PermissionDenied(Exception):
    """Raised by every action whose permission the actor's roles do not hold."""


@dataclass(frozen=True)
class Actor:
    username: str
    roles: frozenset[str]

    @classmethod
    def of(cls, username: str, roles: Iterable[str]) -> Actor:
        return cls(username=username, roles=frozenset(roles))


def allowed(actor: Actor, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise KeyError(f"Unknown permission {permission!r}")
    return bool(PERMISSIONS[permission] & actor.roles)


def require(actor: Actor, permission: str) -> None:
    """Refuse, with a sentence naming who may, unless one of the actor's roles holds the permission."""
    if not allowed(actor, permission):
        holders = ", ".join(role for role in ROLES if role in PERMISSIONS[permission])
        raise PermissionDenied(
            f"{actor.username} may not do this ({permission}); it needs one of these roles: {holders}."
        )


P = ParamSpec("P")
R = TypeVar("R")

# Every function guarded by `requires`, by permission: the permission-matrix test calls each of them.
GUARDED: dict[str, list[Callable[..., object]]] = {}


def requires(
    permission: str,
) -> Callable[[Callable[Concatenate[Actor, P], R]], Callable[Concatenate[Actor, P], R]]:
    """Guard a data_access function whose first argument is the actor: refuse before anything else runs."""
    if permission not in PERMISSIONS:
        raise KeyError(f"Unknown permission {permission!r}")

    def decorate(function: Callable[Concatenate[Actor, P], R]) -> Callable[Concatenate[Actor, P], R]:
        @functools.wraps(function)
        def guarded(actor: Actor, /, *args: P.args, **kwargs: P.kwargs) -> R:
            require(actor, permission)
            return function(actor, *args, **kwargs)

        GUARDED.setdefault(permission, []).append(guarded)
        return guarded

    return decorate
