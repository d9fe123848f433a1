"""Keeping a customer's details by hand: the same checks as the customers import, only the fields that changed
written, and a refusal (nothing written) when someone else changed one of them since the form was read."""

from __future__ import annotations

from dataclasses import fields
from decimal import Decimal

from sqlalchemy import select

from data_access import clock, ledger
from data_access.actions import collections_run
from data_access.audit import CustomerEdited, record_event
from data_access.checks import clean_text
from data_access.csv_import import fields as f
from data_access.db import transaction
from data_access.errors import InvalidAction
from data_access.models import Customer, Invoice, Payment
from data_access.money import InvalidAmount, from_cents, to_cents
from data_access.permissions import Actor, requires
from data_access.queries.customers import CustomerDetails, details_of

MAX_TERMS_DAYS = 365

LABELS = {
    "name": "the name",
    "tenant_id": "the tenant id",
    "domain": "the domain",
    "country": "the country",
    "currency": "the currency",
    "account_manager": "the account manager",
    "payment_terms_days": "the payment terms",
    "credit_limit": "the credit limit",
    "billing_contact_name": "the billing contact",
    "billing_contact_email": "the billing contact e-mail",
    "exempt_from_collections": "the collections exemption",
}


def _parsed(parser: f.Parser, column: str, value: str | None, problems: list[str]) -> str | None:
    """The import's own parser on a form value: the same rule, the same words."""
    if value is None:
        return None
    try:
        parsed: str = parser(column, value)
    except f.BadValue as exc:
        problems.append(f"{str(exc)[0].upper()}{str(exc)[1:]}.")
        return None
    return parsed


def checked(details: CustomerDetails) -> CustomerDetails:
    """The details trimmed and checked as the customers import checks them; InvalidAction naming every problem."""
    problems: list[str] = []

    def text(value: str | None, what: str, limit: int) -> str | None:
        try:
            return clean_text(value, what, limit)
        except InvalidAction as exc:
            problems.append(str(exc))
            return None

    name = text(details.name, "The name", 200)
    if not name and not problems:
        problems.append("A customer needs a name.")
    tenant = _parsed(f.tenant, "The tenant id", text(details.tenant_id, "The tenant id", 36), problems)
    domain = text(details.domain, "The domain", 253)
    if domain and (" " in domain or "." not in domain):
        problems.append(f"The domain {f.shown(domain)} is not a domain name (e.g. contoso.com).")
    country = _parsed(f.country, "The country", text(details.country, "The country", 2), problems)
    currency = _parsed(f.currency, "The currency", text(details.currency, "The currency", 3), problems)
    if currency is None and not details.currency.strip():
        problems.append("A customer needs a billing currency.")
    email = _parsed(
        f.email(254),
        "The billing contact e-mail",
        text(details.billing_contact_email, "The e-mail", 254),
        problems,
    )
    manager = text(details.account_manager, "The account manager", 100)
    contact = text(details.billing_contact_name, "The billing contact", 200)
    terms = details.payment_terms_days
    if isinstance(terms, bool) or not isinstance(terms, int) or not 0 <= terms <= MAX_TERMS_DAYS:
        problems.append(f"Payment terms must be 0 to {MAX_TERMS_DAYS} days.")
    limit = details.credit_limit
    if limit is not None:
        try:
            cents = to_cents(limit)
        except InvalidAmount as exc:
            problems.append(f"The credit limit: {exc}")
        else:
            if cents < 0:
                problems.append("The credit limit cannot be negative; leave it empty for none.")
            limit = from_cents(cents)
    if problems:
        raise InvalidAction(" ".join(problems))
    return CustomerDetails(
        name=name or "",
        tenant_id=tenant,
        domain=domain.lower() if domain else None,
        country=country,
        currency=currency or details.currency,
        account_manager=manager,
        payment_terms_days=terms,
        credit_limit=limit,
        billing_contact_name=contact,
        billing_contact_email=email,
        exempt_from_collections=bool(details.exempt_from_collections),
    )


def _shown(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return str(from_cents(to_cents(value)))
    return str(value)


@requires("customer.edit")
def update_customer(
    actor: Actor, *, customer_id: str, before: CustomerDetails, after: CustomerDetails
) -> tuple[str, ...]:
    """Write the fields where `after` differs from `before` (what the form showed), after the import's checks.
    Refused, nothing written, when one of those fields was changed by someone else since `before` was read, or
    the currency would change under existing invoices or payments. Returns the names of the fields changed."""
    wanted = checked(after)
    changing = [
        fld.name for fld in fields(CustomerDetails) if getattr(wanted, fld.name) != getattr(before, fld.name)
    ]
    if not changing:
        return ()
    with transaction() as session:
        found = ledger.customer_by_external_id(session, customer_id)
        ledger.lock_customer(session, found.id)
        customer = session.get_one(Customer, found.id, populate_existing=True, with_for_update=True)
        now = details_of(customer)
        moved = [name for name in changing if getattr(now, name) != getattr(before, name)]
        if moved:
            what = ", ".join(
                f"{LABELS[name]} (now {_shown(getattr(now, name)) or 'empty'})" for name in moved
            )
            raise InvalidAction(
                f"Someone else changed {what} since you opened the form; nothing was saved. Reload and try again."
            )
        if "currency" in changing:
            has_money = session.scalar(select(Invoice.id).where(Invoice.customer_id == customer.id).limit(1))
            has_money = has_money or session.scalar(
                select(Payment.id).where(Payment.customer_id == customer.id).limit(1)
            )
            if has_money:
                raise InvalidAction(
                    f"{customer.name} has invoices or payments in {now.currency}, so the billing currency cannot "
                    "change; nothing was saved."
                )
        for name in changing:
            value = getattr(wanted, name)
            if name == "credit_limit":
                customer.credit_limit_cents = None if value is None else to_cents(value)
            else:
                setattr(customer, name, value)
        session.flush()
        record_event(
            session,
            actor,
            CustomerEdited(
                customer_id=customer.external_id,
                before={name: _shown(getattr(now, name)) for name in changing},
                after={name: _shown(getattr(wanted, name)) for name in changing},
            ),
            target=f"customer:{customer.external_id}",
        )
        collections_run.refresh(session, [customer.id], as_of=clock.today(), because="customer edited")
        return tuple(changing)
