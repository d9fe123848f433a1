"""Demo data: the same seed and day give the same rows, the ledger's invariants hold, and every state the app
shows (each overdue range of the policy, every ticket and escalation state) is there to see."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from sqlalchemy import select

from data_access.audit import (
    CreditNoteIssued,
    DataImported,
    EscalationCreated,
    Event,
    PaymentRecorded,
    PolicySaved,
    SubscriptionReinstated,
    SubscriptionSuspended,
    TicketCreated,
    UnrecognisedEvent,
    parse_event,
)
from data_access.db import get_engine, read_session, transaction
from data_access.demo import database_is_empty, seed_demo
from data_access.enums import (
    EscalationStatus,
    Severity,
    SubscriptionStatus,
    SupportVehicle,
    TicketCategory,
    TicketStatus,
)
from data_access.errors import InvalidAction
from data_access.models import (
    AuditEvent,
    Base,
    CollectionsActivity,
    CollectionsPolicy,
    CreditNote,
    Customer,
    Escalation,
    ExchangeRate,
    Invoice,
    MicrosoftInvoice,
    PartnerCenterImport,
    PartnerCenterLine,
    Payment,
    PaymentAllocation,
    Subscription,
    Ticket,
)
from data_access.queries.audit_log import audit_events
from data_access.queries.exchange_rates import rates_at
from data_access.queries.suspensions import suspended_at_end_of, suspension_history
from tests.support.actors import ADMIN, BILLING

TODAY = date(2026, 11, 24)
SMALL_DEMO: dict[str, Any] = {"customers": 40, "seed": 7, "today": TODAY}
POLICY_RANGES = ((1, 14), (15, 29), (30, 44), (45, 89), (90, None))


def rows(model: type[Base]) -> list[dict[str, Any]]:
    table = model.__table__
    with get_engine().connect() as connection:
        return [dict(row._mapping) for row in connection.execute(select(table).order_by(table.c.id))]


def digest() -> dict[str, str]:
    """One hash per table over all its rows in id order."""
    found = {}
    with get_engine().connect() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name in ("data_version", "subject_versions"):  # bookkeeping: moved by every write
                continue
            result = connection.execute(select(table).order_by(*table.primary_key.columns))
            found[table.name] = hashlib.sha256(repr([tuple(row) for row in result]).encode()).hexdigest()
    return found


def delete_every_row() -> None:
    with transaction() as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(table.delete())


def test_same_seed_and_day_give_the_same_rows(database: str) -> None:
    steps: list[str] = []
    counts = seed_demo(**SMALL_DEMO, progress=steps.append)
    first = digest()
    assert steps
    assert counts["customers"] == 40
    assert counts["invoices"] == len(rows(Invoice))

    delete_every_row()
    assert database_is_empty()
    seed_demo(**SMALL_DEMO)
    assert digest() == first

    delete_every_row()
    seed_demo(**{**SMALL_DEMO, "seed": 8})
    assert digest()["invoices"] != first["invoices"]


def test_balances_agree_with_allocations_and_credit_notes(database: str) -> None:
    seed_demo(**SMALL_DEMO)
    invoices = {row["id"]: row for row in rows(Invoice)}
    payments = {row["id"]: row for row in rows(Payment)}
    allocations = rows(PaymentAllocation)
    credit_notes = rows(CreditNote)
    copied = ("customer_id", "currency", "issue_date", "due_date")

    paid: defaultdict[int, int] = defaultdict(int)
    applied: defaultdict[int, int] = defaultdict(int)
    for allocation in allocations:
        invoice, payment = invoices[allocation["invoice_id"]], payments[allocation["payment_id"]]
        assert allocation["applied_on"] == max(payment["received_on"], invoice["issue_date"])
        assert {key: allocation[key] for key in copied} == {key: invoice[key] for key in copied}
        assert payment["customer_id"] == invoice["customer_id"]
        assert payment["currency"] == invoice["currency"]
        paid[invoice["id"]] += allocation["amount_cents"]
        applied[payment["id"]] += allocation["amount_cents"]

    credited: defaultdict[int, int] = defaultdict(int)
    for note in sorted(credit_notes, key=lambda row: (row["issued_on"], row["id"])):
        invoice = invoices[note["invoice_id"]]
        assert {key: note[key] for key in copied} == {key: invoice[key] for key in copied}
        assert invoice["issue_date"] <= note["issued_on"] <= TODAY
        paid_before = sum(
            a["amount_cents"]
            for a in allocations
            if a["invoice_id"] == invoice["id"] and a["applied_on"] < note["issued_on"]
        )
        open_then = invoice["amount_cents"] - paid_before - credited[invoice["id"]]
        assert 0 < note["amount_cents"] <= open_then
        credited[invoice["id"]] += note["amount_cents"]

    for invoice in invoices.values():
        expected = invoice["amount_cents"] - paid[invoice["id"]] - credited[invoice["id"]]
        assert invoice["open_cents"] == expected, invoice["number"]
        assert 0 <= invoice["open_cents"] <= invoice["amount_cents"]
    for payment in payments.values():
        assert payment["amount_cents"] == payment["unapplied_cents"] + applied[payment["id"]]
        assert payment["received_on"] <= TODAY


def oldest_overdue_days(customers: list[dict[str, Any]], invoices: list[dict[str, Any]]) -> dict[int, int]:
    """Per customer the policy acts on: days past due of the oldest open, undisputed invoice."""
    exempt = {c["id"] for c in customers if c["exempt_from_collections"]}
    oldest: dict[int, int] = {}
    for invoice in invoices:
        if invoice["open_cents"] > 0 and invoice["due_date"] < TODAY and not invoice["disputed"]:
            days = (TODAY - invoice["due_date"]).days
            if invoice["customer_id"] not in exempt:
                oldest[invoice["customer_id"]] = max(days, oldest.get(invoice["customer_id"], 0))
    return oldest


def test_demo_shows_every_state_the_app_handles(database: str) -> None:
    seed_demo(**SMALL_DEMO)
    tickets = rows(Ticket)
    escalations = rows(Escalation)
    assert {t["category"] for t in tickets} == set(TicketCategory.values())
    assert {t["severity"] for t in tickets} == set(Severity.values())
    assert {t["status"] for t in tickets} == set(TicketStatus.values())
    assert {e["status"] for e in escalations} == set(EscalationStatus.values())
    assert {(e["kind"], e["vehicle"]) for e in escalations} == {
        ("commercial", None),
        *(("technical", vehicle) for vehicle in SupportVehicle.values()),
    }

    suspended = [s for s in rows(Subscription) if s["status"] == SubscriptionStatus.SUSPENDED.value]
    assert suspended
    assert all(
        s["suspended_by"] == "billing" and s["suspended_at"] and s["suspension_reason"] for s in suspended
    )
    invoices = rows(Invoice)
    assert any(invoice["disputed"] for invoice in invoices)
    assert rows(CreditNote)
    assert any(payment["unapplied_cents"] > 0 for payment in rows(Payment))

    oldest = oldest_overdue_days(rows(Customer), invoices)
    in_range = Counter(
        (low, high)
        for days in oldest.values()
        for low, high in POLICY_RANGES
        if low <= days and (high is None or days <= high)
    )
    for policy_range in POLICY_RANGES:
        assert in_range[policy_range] >= 3, (policy_range, in_range)


def test_times_follow_each_other(database: str) -> None:
    seed_demo(**SMALL_DEMO)
    tickets = {t["id"]: t for t in rows(Ticket)}
    for ticket in tickets.values():
        assert (ticket["first_response_at"] is None) == (ticket["status"] == TicketStatus.NEW.value)
        resolved = ticket["status"] in (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value)
        assert (ticket["resolved_at"] is not None) == resolved
        if ticket["first_response_at"]:
            assert ticket["created_at"] <= ticket["first_response_at"]
        if ticket["resolved_at"]:
            assert ticket["first_response_at"] <= ticket["resolved_at"]
    for escalation in rows(Escalation):
        ticket = tickets[escalation["ticket_id"]]
        assert ticket["created_at"] <= escalation["submitted_at"] <= escalation["status_changed_at"]
        finished = escalation["status"] in (EscalationStatus.RESOLVED.value, EscalationStatus.CLOSED.value)
        assert (escalation["resolved_at"] is not None) == finished
        if not finished:
            assert ticket["status"] == TicketStatus.ESCALATED.value
    for activity in rows(CollectionsActivity):
        assert activity["actor"] == "billing"
        assert activity["occurred_at"].date() < TODAY


def test_demo_goes_only_into_an_empty_database(database: str) -> None:
    seed_demo(customers=3, seed=1, today=TODAY)
    assert not database_is_empty()
    with pytest.raises(InvalidAction, match="already holds customers"):
        seed_demo(customers=3, seed=1, today=TODAY)


def test_rows_added_after_the_demo_get_fresh_ids(database: str) -> None:
    counts = seed_demo(customers=3, seed=1, today=TODAY)
    with transaction() as session:
        customer = Customer(external_id="AFTER-DEMO", name="Added later", currency="USD")
        session.add(customer)
        session.flush()
        assert customer.id == counts["customers"] + 1


def events() -> list[tuple[dict[str, Any], Event]]:
    """Every audit row with its typed event; none may be left unread."""
    found = []
    for row in rows(AuditEvent):
        event = parse_event(row["permission"], row["details"])
        assert not isinstance(event, UnrecognisedEvent), row
        found.append((row, event))
    return found


def of_kind(found: list[tuple[dict[str, Any], Event]], kind: type[Event]) -> list[tuple[dict[str, Any], Any]]:
    return [(row, event) for row, event in found if isinstance(event, kind)]


def test_the_audit_log_tells_the_story_the_pages_tell(database: str) -> None:
    seed_demo(**SMALL_DEMO)
    found = events()
    assert all(row["occurred_at"].date() <= TODAY for row, _ in found)
    assert audit_events(ADMIN, limit=1).total == len(found)

    activities = rows(CollectionsActivity)
    acted = [event for row, event in found if row["permission"] == "collections.act"]
    assert sorted(e.activity_id for e in acted) == [a["id"] for a in activities]
    kinds = {a["id"]: a["kind"] for a in activities}
    assert all(kinds[e.activity_id] == e.kind for e in acted)

    payments = rows(Payment)
    recorded = of_kind(found, PaymentRecorded)
    assert sorted(e.payment_id for _, e in recorded) == [p["id"] for p in payments]
    by_id = {p["id"]: p for p in payments}
    for row, event in recorded:
        assert row["occurred_at"] == by_id[event.payment_id]["recorded_at"]
        assert event.amount * 100 == by_id[event.payment_id]["amount_cents"]

    notes = rows(CreditNote)
    issued = of_kind(found, CreditNoteIssued)
    assert sorted(e.credit_note for _, e in issued) == sorted(n["number"] for n in notes)

    tickets = rows(Ticket)
    created = of_kind(found, TicketCreated)
    assert sorted(row["target"] for row, _ in created) == sorted(
        f"ticket:{t['external_id']}" for t in tickets
    )
    assert sorted(e.escalation_id for _, e in of_kind(found, EscalationCreated)) == [
        e["id"] for e in rows(Escalation)
    ]
    imported = of_kind(found, DataImported)
    assert sum(e.added for row, e in imported if row["target"] == "import:invoices") == len(rows(Invoice))
    assert sum(e.added for row, e in imported if row["target"] == "import:customers") == 40

    policy = rows(CollectionsPolicy)[0]
    saves = of_kind(found, PolicySaved)
    latest = max(saves, key=lambda pair: (pair[0]["occurred_at"], pair[0]["id"]))[0]
    assert (latest["actor"], latest["occurred_at"]) == (policy["updated_by"], policy["updated_at"])


def test_every_suspension_is_on_the_record(database: str) -> None:
    seed_demo(**{**SMALL_DEMO, "customers": 120})
    found = events()
    subscriptions = rows(Subscription)
    suspended = [s for s in subscriptions if s["status"] == SubscriptionStatus.SUSPENDED.value]
    assert suspended
    suspensions = of_kind(found, SubscriptionSuspended)
    last: dict[str, tuple[dict[str, Any], Any]] = {}
    for row, event in sorted(suspensions, key=lambda pair: pair[0]["occurred_at"]):
        last[row["target"]] = (row, event)
    for subscription in suspended:
        row, event = last[f"subscription:{subscription['external_id']}"]
        assert row["actor"] == subscription["suspended_by"] == event.after.suspended_by
        assert row["occurred_at"] == subscription["suspended_at"] == event.after.suspended_at
        assert event.reason == subscription["suspension_reason"]
        assert event.days_past_due >= 50 and event.overdue >= 50

    history = suspension_history(BILLING)
    assert len(history) == len(suspensions) + len(of_kind(found, SubscriptionReinstated))
    assert set(history["action"]) == {"Suspended", "Reinstated"}

    reinstated = of_kind(found, SubscriptionReinstated)
    assert reinstated
    by_external = {s["external_id"]: s for s in subscriptions}
    with read_session() as session:
        assert set(suspended_at_end_of(session, TODAY)) == {s["id"] for s in suspended}
        for row, _event in reinstated:
            subscription = by_external[row["target"].removeprefix("subscription:")]
            assert subscription["status"] == SubscriptionStatus.ACTIVE.value
            went = max(r["occurred_at"] for r, _ in suspensions if r["target"] == row["target"])
            assert went < row["occurred_at"]
            assert subscription["id"] in suspended_at_end_of(session, went.date())
            assert subscription["id"] not in suspended_at_end_of(session, row["occurred_at"].date())


def test_partner_center_files_cost_less_than_invoiced_but_for_the_leaks_placed(database: str) -> None:
    seed_demo(**SMALL_DEMO)
    lines, customers = rows(PartnerCenterLine), rows(Customer)
    subscriptions = {s["external_id"]: s for s in rows(Subscription)}
    tenants = {c["tenant_id"]: c for c in customers}
    assert {r["currency"] for r in rows(ExchangeRate)} == {"AUD", "CAD", "EUR", "GBP"}
    assert all(rates_at(TODAY.replace(day=1)).rate(c) for c in ("AUD", "CAD", "EUR", "GBP"))
    assert sum(i["lines"] for i in rows(PartnerCenterImport)) == len(lines)
    assert all(
        line["period"] == (line["usage_date"] or line["charge_start"]).replace(day=1) for line in lines
    )

    billed: defaultdict[str, int] = defaultdict(int)
    for line in lines:
        if line["invoice_number"]:
            billed[line["invoice_number"]] += line["cost_units"] + (line["tax_units"] or 0)
    microsoft = [b for b in rows(MicrosoftInvoice) if b["number"] in billed]
    assert len({b["period_start"] for b in microsoft}) == 6
    assert len({b["currency"] for b in microsoft}) == len({c["currency"] for c in customers})
    bills = {b["number"]: b["amount_cents"] for b in microsoft}
    currencies = {b["number"]: b["currency"] for b in microsoft}
    for line in lines:
        known = tenants.get(line["customer_tenant"])
        assert line["currency"] == (known["currency"] if known else "USD")
        assert line["invoice_number"] is None or currencies[line["invoice_number"]] == line["currency"]
    assert bills == {
        number: int((Decimal(units) / 10**6).to_integral_value(ROUND_HALF_UP))
        for number, units in billed.items()
    }

    assert {line["source"] for line in lines} == {"invoice", "usage"}
    assert any(line["invoice_number"] is None for line in lines)
    strangers = {line["customer_tenant"] for line in lines if line["customer_tenant"] not in tenants}
    ours = {line["subscription_ref"] for line in lines if line["customer_tenant"] in tenants}
    unknown = ours - set(subscriptions)
    over = {
        line["subscription_ref"]
        for line in lines
        if line["subscription_ref"] in subscriptions
        and line["source"] == "invoice"
        and line["quantity_units"] > subscriptions[line["subscription_ref"]]["quantity"] * 10**8
    }
    suspended = {
        line["subscription_ref"]
        for line in lines
        if (s := subscriptions.get(line["subscription_ref"])) is not None
        and s["status"] == SubscriptionStatus.SUSPENDED.value
        and line["period"] >= s["suspended_at"].date()
    }
    assert (len(strangers), len(unknown), len(over)) == (2, 1, 3)
    assert suspended

    invoiced: defaultdict[tuple[int, date], int] = defaultdict(int)
    for invoice in rows(Invoice):
        invoiced[invoice["customer_id"], invoice["issue_date"]] += invoice["amount_cents"]
    cost: defaultdict[tuple[int, date], int] = defaultdict(int)
    for line in lines:
        if line["customer_tenant"] in tenants and line["invoice_number"]:
            cost[tenants[line["customer_tenant"]]["id"], line["period"]] += line["cost_units"]
    margins = []
    for (customer, month), units in cost.items():
        margins.append(1 - Decimal(units) / 10**6 / invoiced[customer, month])
    assert sum(m < 0 for m in margins) == 2
    assert sorted(margins)[len(margins) // 2] > Decimal("0.1")
