"""Audit events as typed dataclasses: every kind is stored and read back unchanged through the database, details of
an unknown or older shape read back as an UnrecognisedEvent, and the audit log shows the stored JSON text."""

from __future__ import annotations

import json
import types
from dataclasses import fields, is_dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import pytest
from sqlalchemy import select

from data_access import audit, clock
from data_access.actions import collections, credit_notes, payments, tickets
from data_access.audit import Event, UnrecognisedEvent, event_kinds, parse_event, record_event
from data_access.auth import users
from data_access.csv_import import import_csv
from data_access.db import read_session, transaction
from data_access.models import AuditEvent
from data_access.queries import audit_log
from tests.support import factories
from tests.support.actors import ADMIN

TODAY = clock.today()


def example(kind: Any, variant: int) -> Any:
    """A value of the type: variant 0 fills optional fields, variant 1 leaves them None."""
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        arms = [arm for arm in get_args(kind) if arm is not type(None)]
        if variant == 1 and type(None) in get_args(kind):
            return None
        return example(arms[variant % len(arms)], variant)
    if origin is Literal:
        return get_args(kind)[0]
    if origin is tuple:
        return (example(get_args(kind)[0], variant), example(get_args(kind)[0], 0))
    if origin is dict:
        return {"monday": example(get_args(kind)[1], variant), "sunday": example(get_args(kind)[1], 1)}
    if is_dataclass(kind):
        hints = get_type_hints(kind)
        return kind(**{f.name: example(hints[f.name], variant) for f in fields(kind) if f.init})
    values = {
        str: 'Contoso =1+1 "quoted" é',
        int: 7,
        bool: True,
        Decimal: Decimal("1234.50"),
        date: date(2026, 9, 30),
        datetime: datetime(2026, 9, 30, 13, 5, 9, 120000, tzinfo=UTC),
    }
    return values[kind]


KINDS = sorted(event_kinds(), key=lambda kind: kind.__name__)


def test_there_is_a_kind_for_every_event_the_app_writes() -> None:
    assert len(KINDS) == 50
    assert len({kind.__name__ for kind in KINDS}) == len(KINDS)
    assert all(kind.__dataclass_params__.frozen for kind in KINDS)  # type: ignore[attr-defined]


@pytest.mark.parametrize("variant", [0, 1])
@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.__name__)
def test_every_kind_is_recorded_and_read_back_as_it_was(
    database: str, kind: type[Event], variant: int
) -> None:
    event = example(kind, variant)
    with transaction() as session:
        record_event(session, ADMIN, event, target="test:1")
    with read_session() as session:
        row = session.scalars(select(AuditEvent)).one()
        stored = (row.permission, row.details)
    assert stored[0] == kind.permission
    assert parse_event(*stored) == event
    assert json.dumps(stored[1]) == json.dumps(event.to_details())


@pytest.mark.parametrize(
    ("permission", "details"),
    [
        ("payment.record", None),
        ("payment.record", {}),
        ("payment.record", {"payment_id": 1, "amount": "10.00"}),
        ("payment.record", {"payment_id": "one", "amount": "10.00", "received_on": "2026-09-30",
                            "invoice_number": None, "reference": None, "unapplied": "0.00"}),
        ("payment.record", {"payment_id": 1, "amount": "ten", "received_on": "2026-09-30",
                            "invoice_number": None, "reference": None, "unapplied": "0.00"}),
        ("payment.record", {"payment_id": 1, "amount": "10.00", "received_on": "2026-09-30", "extra": 1,
                            "invoice_number": None, "reference": None, "unapplied": "0.00"}),
        ("users.manage", {"action": "promote"}),
        ("ticket.update", {"action": "assign", "before": None}),
        ("collections.act", {"activity_id": 1, "kind": "fax", "notes": "sent"}),
        ("subscription.suspend", {"customer_id": "C-1", "reason": "old shape without partner_center"}),
        ("something.new", {"anything": [1, 2, {"x": None}]}),
        ("auth.lockout", {"failed_attempts": 5, "locked_until": "2026-09-30T10:00:00Z"}),
    ],
)  # fmt: skip
def test_details_no_kind_reads_exactly_come_back_unrecognised(permission: str, details: Any) -> None:
    parsed = parse_event(permission, details)
    assert parsed == UnrecognisedEvent(permission, details)
    assert parsed.to_details() is details


def test_kinds_sharing_a_permission_are_told_apart() -> None:
    assert parse_event("users.manage", {"action": "disable"}) == audit.UserDisabled()
    assert parse_event("users.manage", {"action": "enable"}) == audit.UserEnabled()
    assert parse_event(
        "collections.act", {"activity_id": 3, "kind": "note", "notes": "n"}
    ) == audit.NoteAdded(activity_id=3, notes="n")
    assert parse_event(
        "collections.act", {"activity_id": 3, "kind": "call", "notes": "n"}
    ) == audit.CallLogged(activity_id=3, notes="n")
    policy = example(audit.PolicySaved, 0)
    offering = example(audit.OfferingSaved, 0)
    whole_offering = example(audit.SupportOfferingSaved, 0)
    assert parse_event("policies.edit", policy.to_details()) == policy
    assert parse_event("policies.edit", offering.to_details()) == offering
    assert parse_event("policies.edit", whole_offering.to_details()) == whole_offering


def test_the_actions_write_events_that_read_back_as_their_kinds(database: str, tmp_path: Any) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "INV-1", issued=TODAY - timedelta(days=60), cents=100_000)
    factories.invoice("C-1", "INV-2", issued=TODAY - timedelta(days=50), cents=100_000)
    payment_id = payments.record_payment(
        ADMIN, customer_id="C-1", amount=Decimal("1200.00"), received_on=TODAY, invoice_number="INV-1",
        reference="wire 1",
    )  # fmt: skip
    payments.reverse_payment(ADMIN, payment_id=payment_id, reason="returned by the bank")
    payments.record_payment(ADMIN, customer_id="C-1", amount=Decimal("5.00"), received_on=TODAY)
    credit_notes.issue_credit_note(
        ADMIN, invoice_number="INV-2", number="CN-1", amount=Decimal("10.00"), issued_on=TODAY, reason=None
    )
    credit_notes.reverse_credit_note(ADMIN, number="CN-1", reason="issued in error")
    factories.invoice("C-1", "INV-3", issued=TODAY - timedelta(days=40), cents=100_000)
    payments.record_payment(ADMIN, customer_id="C-1", amount=Decimal("1000.00"), received_on=TODAY)
    collections.log_contact(ADMIN, customer_id="C-1", kind="call", notes="Spoke to AP")
    collections.log_contact(ADMIN, customer_id="C-1", kind="email", notes="Sent the statement")
    collections.add_note(ADMIN, customer_id="C-1", notes="Prefers e-mail")
    collections.record_promise(ADMIN, customer_id="C-1", amount=Decimal("100.00"), promised_for=TODAY)
    collections.set_up_payment_plan(
        ADMIN,
        customer_id="C-1",
        installments=[(TODAY, Decimal("50.00")), (TODAY + timedelta(days=30), Decimal(50))],
    )
    collections.open_dispute(ADMIN, invoice_number="INV-2", reason="Wrong seats")
    collections.resolve_dispute(ADMIN, invoice_number="INV-2", resolution="Seats confirmed")
    ticket = tickets.create_ticket(
        ADMIN, customer_id="C-1", title="Invoice question", description="", category="billing question",
        severity="minimal", channel="email",
    )  # fmt: skip
    tickets.assign(ADMIN, ticket_id=ticket, assignee="helpdesk")
    tickets.respond(ADMIN, ticket_id=ticket)
    tickets.change_status(ADMIN, ticket_id=ticket, status="pending customer")
    tickets.resolve(ADMIN, ticket_id=ticket)
    tickets.reopen(ADMIN, ticket_id=ticket)
    users.add_user(ADMIN, username="newbie", name="New Bie", email="", roles=["Sales agent"])
    users.set_roles(ADMIN, "newbie", ["Sales agent", "Helpdesk agent"])
    users.disable_user(ADMIN, "newbie")
    users.enable_user(ADMIN, "newbie")
    temporary = users.reset_password(ADMIN, "newbie")
    users.change_own_password("newbie", current=temporary, new="a much longer passphrase")
    csv = tmp_path / "customers.csv"
    csv.write_text("customer_id,name,currency,country\nC-9,Nine Ltd,USD,US\n", encoding="utf-8")
    import_csv(ADMIN, "customers", csv)

    with read_session() as session:
        rows = session.execute(
            select(AuditEvent.permission, AuditEvent.details).order_by(AuditEvent.id)
        ).all()
    parsed = [parse_event(permission, details) for permission, details in rows]
    assert [type(event).__name__ for event in parsed] == [
        "PaymentRecorded", "PaymentReversed", "PaymentRecorded", "CreditNoteIssued", "CreditNoteReversed",
        "PaymentRecorded", "CallLogged", "EmailLogged", "NoteAdded", "PromiseRecorded", "PaymentPlanSetUp",
        "DisputeOpened", "DisputeResolved", "TicketCreated", "TicketAssigned", "TicketResponded",
        "TicketStatusChanged", "TicketResolved", "TicketReopened", "UserAdded", "RolesSet", "UserDisabled",
        "UserEnabled", "PasswordReset", "OwnPasswordChanged", "DataImported",
    ]  # fmt: skip
    assert parsed[1] == audit.PaymentReversed(
        payment_id=payment_id, amount=Decimal("1200.00"), received_on=TODAY, reversed_on=TODAY,
        reopened=Decimal("1000.00"), reason="returned by the bank",
    )  # fmt: skip


def test_the_audit_log_shows_the_stored_json_of_known_and_unknown_events(database: str) -> None:
    known = audit.CreditApplied(applied=Decimal("12.50"), invoices="oldest first")
    with transaction() as session:
        record_event(session, ADMIN, known, target="customer:C-1")
        session.add(
            AuditEvent(
                actor="old", roles=[], permission="legacy.thing", target="x", details={"b": 1, "a": "é"}
            )
        )
        session.add(AuditEvent(actor="old", roles=[], permission="payment.record", target="y", details=None))
    page = audit_log.audit_events(ADMIN)
    shown = dict(zip(page.events.target, page.events.details, strict=True))
    assert shown == {
        "customer:C-1": '{"applied": "12.50", "invoices": "oldest first"}',
        "x": '{"b": 1, "a": "é"}',
        "y": "",
    }
    exported = audit_log.export_csv(ADMIN, page.events).decode("utf-8-sig")
    assert '"{""applied"": ""12.50"", ""invoices"": ""oldest first""}"' in exported
