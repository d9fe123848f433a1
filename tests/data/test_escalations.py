"""Escalations to Microsoft: commercial always, technical only through an entitled vehicle; each action writes its
change and one audit event in one transaction, or nothing at all when refused; the board's ages hold at `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from data_access.actions import escalations as escalations_actions
from data_access.db import read_session
from data_access.enums import SupportVehicle
from data_access.errors import InvalidAction, NotFound
from data_access.models import AuditEvent, Escalation, Ticket
from data_access.permissions import PermissionDenied
from data_access.queries import escalations as escalations_queries
from tests.support import factories
from tests.support.actors import BILLING, HELPDESK, SALES

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
ENTITLED = [SupportVehicle.ADVANCED.value, SupportVehicle.PREMIER.value]


def offering(entitled: list[str]) -> None:
    factories.support_offering(entitlements=entitled)


def ticket(external_id: str, *, customer_id: str = "C-001", status: str = "open") -> str:
    return factories.ticket(customer_id, external_id, title=f"Question on {external_id}", category="technical",
                            status=status, created_at=NOW - timedelta(days=3))  # fmt: skip


@pytest.fixture
def db(database: str) -> str:
    factories.customer("C-001", name="Contoso")
    factories.customer("C-002", name="Fabrikam")
    offering(ENTITLED)
    ticket("T-1")
    ticket("T-2", customer_id="C-002")
    return database


def counts() -> tuple[int, int]:
    with read_session() as session:
        return (
            session.scalar(select(func.count()).select_from(Escalation)) or 0,
            session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
        )


def ticket_status(external_id: str) -> str:
    with read_session() as session:
        return session.scalar(select(Ticket.status).where(Ticket.external_id == external_id)) or ""


def escalate(**overrides: object) -> int:
    arguments: dict[str, object] = {
        "ticket_id": "T-1",
        "kind": "commercial",
        "vehicle": None,
        "case_number": "2611200000000001",
        "severity": "moderate",
        "notes": "Invoice shows the wrong seat count.",
        "now": NOW,
    }
    arguments.update(overrides)
    return escalations_actions.escalate(HELPDESK, **arguments)  # type: ignore[arg-type]


def test_entitlements_come_from_the_support_offering_in_vehicle_order(db: str) -> None:
    with read_session() as session:
        assert escalations_queries.entitlements(session) == (
            SupportVehicle.PREMIER.value,
            SupportVehicle.ADVANCED.value,
        )
    assert escalations_queries.available_vehicles(HELPDESK) == escalations_queries.available_vehicles(BILLING)


def test_no_support_offering_means_no_technical_vehicle(database: str) -> None:
    with read_session() as session:
        assert escalations_queries.entitlements(session) == ()


def test_commercial_escalation_is_recorded_audited_and_escalates_the_ticket(db: str) -> None:
    escalation_id = escalate()
    with read_session() as session:
        found = session.get_one(Escalation, escalation_id)
        events = list(session.scalars(select(AuditEvent)))
    assert (found.kind, found.vehicle, found.status) == ("commercial", None, "submitted")
    assert found.submitted_at == found.status_changed_at == NOW
    assert found.created_by == "helpdesk"
    assert ticket_status("T-1") == "escalated"
    assert len(events) == 1
    event = events[0]
    assert (event.actor, event.permission, event.target) == ("helpdesk", "ticket.escalate", "ticket:T-1")
    assert event.details is not None
    assert event.details["case_number"] == "2611200000000001"
    assert event.details["before"] == {"ticket_status": "open"}
    assert event.details["after"]["ticket_status"] == "escalated"


def test_commercial_escalation_needs_no_entitlement(database: str) -> None:
    factories.customer("C-001")
    ticket("T-1")
    escalate()
    assert ticket_status("T-1") == "escalated"


def test_technical_escalation_through_an_entitled_vehicle(db: str) -> None:
    escalation_id = escalate(kind="technical", vehicle=SupportVehicle.ADVANCED.value, severity="critical")
    with read_session() as session:
        found = session.get_one(Escalation, escalation_id)
    assert (found.kind, found.vehicle, found.severity) == (
        "technical",
        SupportVehicle.ADVANCED.value,
        "critical",
    )


def test_a_vehicle_the_partner_lacks_is_refused_with_a_sentence(db: str) -> None:
    with pytest.raises(InvalidAction) as refused:
        escalate(kind="technical", vehicle=SupportVehicle.SIGNATURE.value)
    assert str(refused.value) == (
        "The partner has no Signature Cloud Support entitlement; escalate commercially or through "
        "Premier Support for Partners or Advanced Support for Partners."
    )
    assert counts() == (0, 0)
    assert ticket_status("T-1") == "open"


def test_without_entitlements_technical_is_refused(database: str) -> None:
    factories.customer("C-001")
    ticket("T-1")
    with pytest.raises(
        InvalidAction, match="no Premier Support for Partners entitlement; escalate commercially"
    ):
        escalate(kind="technical", vehicle=SupportVehicle.PREMIER.value)
    assert counts() == (0, 0)


@pytest.mark.parametrize(
    ("overrides", "sentence"),
    [
        ({"ticket_id": "T-404"}, "no ticket with id 'T-404'"),
        ({"case_number": "  "}, "Give the Microsoft case number"),
        ({"kind": "technical", "vehicle": None}, "needs the support vehicle"),
        ({"vehicle": SupportVehicle.PREMIER.value}, "commercial escalation goes to Microsoft without"),
        ({"kind": "urgent"}, "not a kind of escalation"),
        ({"severity": "high"}, "not a severity"),
        ({"kind": "technical", "vehicle": "Unified Support"}, "not a Microsoft support vehicle"),
        ({"case_number": "2" * 1_000}, "The Microsoft case number is longer than 64 characters."),
        ({"case_number": "26112000\n00001"}, r"case number contains control characters \(U\+000A\)"),
        ({"notes": "x" * 5_001}, "The note is longer than 5000 characters."),
        ({"notes": "Seat count\x00"}, r"The note contains control characters \(U\+0000\)"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    db: str, overrides: dict[str, object], sentence: str
) -> None:
    with pytest.raises(InvalidAction, match=sentence):
        escalate(**overrides)
    assert counts() == (0, 0)
    assert ticket_status("T-1") == "open"


def test_a_case_number_and_a_note_at_their_limits_are_kept(db: str) -> None:
    number, note = "2" * 64, "Seat count\twrong.\n" + "x" * 4_982
    escalation_id = escalate(case_number=number, notes=note)
    escalations_actions.update_status(
        HELPDESK, escalation_id=escalation_id, status="in progress", notes="y" * 5_000, now=NOW
    )
    with read_session() as session:
        found = session.get_one(Escalation, escalation_id)
    assert found.microsoft_case_number == number
    assert (
        found.notes is not None and found.notes.startswith(note + "\n") and found.notes.endswith("y" * 5_000)
    )


@pytest.mark.parametrize(
    ("notes", "sentence"),
    [
        ("y" * 5_001, "The note is longer than 5000 characters."),
        ("Waiting\x1b[31m", r"The note contains control characters \(U\+001B\)"),
    ],
)
def test_update_status_refuses_a_note_too_long_or_with_control_characters(
    db: str, notes: str, sentence: str
) -> None:
    escalation_id = escalate()
    before = counts()
    with pytest.raises(InvalidAction, match=sentence):
        escalations_actions.update_status(
            HELPDESK, escalation_id=escalation_id, status="in progress", notes=notes, now=NOW
        )
    assert counts() == before
    with read_session() as session:
        found = session.get_one(Escalation, escalation_id)
    assert (found.status, found.notes) == ("submitted", "Invoice shows the wrong seat count.")


def test_unknown_ticket_is_not_found(db: str) -> None:
    with pytest.raises(NotFound):
        escalate(ticket_id="T-404")


@pytest.mark.parametrize("status", ["resolved", "closed"])
def test_a_finished_ticket_is_not_escalated(db: str, status: str) -> None:
    ticket("T-9", status=status)
    with pytest.raises(InvalidAction, match=f"Ticket T-9 is {status}; reopen it"):
        escalate(ticket_id="T-9")
    assert counts() == (0, 0)


def test_a_case_number_already_used_is_refused(db: str) -> None:
    escalate()
    with pytest.raises(
        InvalidAction, match="case 2611200000000001 is already recorded on an escalation of ticket T-1"
    ):
        escalate(ticket_id="T-2", case_number=" 2611200000000001 ")
    assert counts() == (1, 1)
    assert ticket_status("T-2") == "open"


def test_update_status_stamps_times_and_audits(db: str) -> None:
    escalation_id = escalate()
    later = NOW + timedelta(hours=5)
    escalations_actions.update_status(
        BILLING,
        escalation_id=escalation_id,
        status="waiting on partner",
        notes="Need the invoice PDF",
        now=later,
    )
    with read_session() as session:
        found = session.get_one(Escalation, escalation_id)
        event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert (found.status, found.status_changed_at, found.submitted_at, found.resolved_at) == (
        "waiting on partner",
        later,
        NOW,
        None,
    )
    assert found.notes is not None and found.notes.endswith(
        "billing (waiting on partner): Need the invoice PDF"
    )
    assert event is not None
    assert (event.actor, event.permission, event.target) == (
        "billing",
        "ticket.escalate",
        f"escalation:{escalation_id}",
    )
    assert event.details is not None
    assert event.details["before"]["status"] == "submitted"
    assert event.details["after"]["status"] == "waiting on partner"
    assert counts() == (1, 2)

    resolved = later + timedelta(days=1)
    escalations_actions.update_status(HELPDESK, escalation_id=escalation_id, status="resolved", now=resolved)
    escalations_actions.update_status(
        HELPDESK, escalation_id=escalation_id, status="closed", now=resolved + timedelta(hours=2)
    )
    with read_session() as session:
        found = session.get_one(Escalation, escalation_id)
    assert (found.status, found.resolved_at) == ("closed", resolved)
    assert found.status_changed_at == resolved + timedelta(hours=2)


def test_reopening_a_resolved_escalation_clears_its_resolution(db: str) -> None:
    escalation_id = escalate()
    escalations_actions.update_status(
        HELPDESK, escalation_id=escalation_id, status="resolved", now=NOW + timedelta(hours=1)
    )
    escalations_actions.update_status(
        HELPDESK, escalation_id=escalation_id, status="in progress", now=NOW + timedelta(hours=2)
    )
    with read_session() as session:
        assert session.get_one(Escalation, escalation_id).resolved_at is None


@pytest.mark.parametrize(
    ("first", "then", "sentence"),
    [
        (None, "submitted", "already submitted"),
        ("closed", "in progress", "is closed"),
        (None, "pending", "not an escalation status"),
    ],
)
def test_update_status_refusals_write_nothing(db: str, first: str | None, then: str, sentence: str) -> None:
    escalation_id = escalate()
    if first:
        escalations_actions.update_status(HELPDESK, escalation_id=escalation_id, status=first, now=NOW)
    before = counts()
    with pytest.raises(InvalidAction, match=sentence):
        escalations_actions.update_status(
            HELPDESK, escalation_id=escalation_id, status=then, now=NOW + timedelta(hours=1)
        )
    assert counts() == before


def test_update_status_of_an_unknown_escalation(db: str) -> None:
    with pytest.raises(NotFound, match="no escalation with id 999"):
        escalations_actions.update_status(HELPDESK, escalation_id=999, status="closed")


def test_board_ages_and_time_in_status_at_now(db: str) -> None:
    first = escalate(now=NOW - timedelta(days=2, hours=3))
    second = escalate(
        ticket_id="T-2",
        kind="technical",
        vehicle=SupportVehicle.PREMIER.value,
        case_number="2611200000000002",
        now=NOW - timedelta(hours=10),
    )
    escalations_actions.update_status(
        HELPDESK, escalation_id=first, status="waiting on partner", now=NOW - timedelta(hours=7)
    )

    board = escalations_queries.board(HELPDESK, now=NOW)
    assert list(board.columns) == escalations_queries.BOARD_COLUMNS
    assert list(board.id) == [second, first]  # status order: submitted before waiting on partner
    rows = board.set_index("id")
    assert rows.loc[first, "age"] == timedelta(days=2, hours=3)
    assert rows.loc[first, "time_in_status"] == timedelta(hours=7)
    assert bool(rows.loc[first, "waiting_on_partner"]) is True
    assert rows.loc[first, "vehicle"] == "Commercial"
    assert (rows.loc[first, "customer_id"], rows.loc[first, "customer"]) == ("C-001", "Contoso")
    assert rows.loc[second, "age"] == timedelta(hours=10)
    assert rows.loc[second, "time_in_status"] == timedelta(hours=10)
    assert bool(rows.loc[second, "waiting_on_partner"]) is False
    assert rows.loc[second, "vehicle"] == SupportVehicle.PREMIER.value
    assert escalations_queries.duration(timedelta(days=2, hours=3, minutes=59)) == "2d 3h"
    assert escalations_queries.duration(timedelta(hours=10)) == "10h"

    assert list(escalations_queries.board(HELPDESK, now=NOW, vehicle="Commercial").id) == [first]
    assert list(escalations_queries.board(HELPDESK, now=NOW, vehicle=SupportVehicle.PREMIER.value).id) == [
        second
    ]
    assert list(escalations_queries.board(HELPDESK, now=NOW, customer_id="C-002").id) == [second]
    assert escalations_queries.board(HELPDESK, now=NOW, customer_id="C-404").empty


def test_permissions(db: str) -> None:
    with pytest.raises(PermissionDenied, match=r"ticket\.escalate"):
        escalations_actions.escalate(
            SALES, ticket_id="T-1", kind="commercial", vehicle=None, case_number="1", severity="minimal"
        )
    with pytest.raises(PermissionDenied, match=r"ticket\.escalate"):
        escalations_actions.update_status(SALES, escalation_id=1, status="closed")
    with pytest.raises(PermissionDenied, match=r"escalations\.view"):
        escalations_queries.board(SALES, now=NOW)
    with pytest.raises(PermissionDenied, match=r"escalations\.view"):
        escalations_queries.available_vehicles(SALES)
    assert counts() == (0, 0)
    escalate()
    assert len(escalations_queries.board(HELPDESK, now=NOW)) == 1
