"""Cases the helpdesk escalated to Microsoft: commercial ones, and technical ones by support vehicle."""

from __future__ import annotations

from datetime import datetime, timedelta

from data_access.demo.draw import Draw, Row
from data_access.enums import (
    EscalationKind,
    EscalationStatus,
    Severity,
    SupportVehicle,
    TicketCategory,
    TicketStatus,
)

EscalationChoice = tuple[EscalationStatus, SupportVehicle | None]

ESCALATION_CHANCE_PERCENT: dict[TicketCategory, int] = {
    TicketCategory.BILLING_QUESTION: 3,
    TicketCategory.INVOICE_DISPUTE: 8,
    TicketCategory.PAYMENT: 2,
    TicketCategory.SUBSCRIPTION_CHANGE: 6,
    TicketCategory.TECHNICAL: 10,
    TicketCategory.OTHER: 4,
}


class Escalations:
    """Escalation rows hold their ticket's row until `number` turns it into the ticket's id."""

    def __init__(self, draw: Draw) -> None:
        self.draw = draw
        self.rows: list[Row] = []
        self.case_numbers: set[str] = set()

    def choose(self, category: TicketCategory, status: TicketStatus) -> EscalationChoice | None:
        """Whether a ticket went to Microsoft and, if so, the case's status and (if technical) vehicle."""
        rng = self.draw.rng
        if status is TicketStatus.ESCALATED:
            state = rng.choices(
                (
                    EscalationStatus.SUBMITTED,
                    EscalationStatus.IN_PROGRESS,
                    EscalationStatus.WAITING_ON_PARTNER,
                ),
                (30, 45, 25),
            )[0]
        elif status in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
            if rng.randint(1, 100) > ESCALATION_CHANCE_PERCENT[category]:
                return None
            state = EscalationStatus.CLOSED if status is TicketStatus.CLOSED else EscalationStatus.RESOLVED
        else:
            return None
        technical = category is TicketCategory.TECHNICAL or (
            category is TicketCategory.OTHER and rng.random() < 0.5
        )
        vehicle = rng.choices(list(SupportVehicle), (35, 55, 10))[0] if technical else None
        return state, vehicle

    def escalate(
        self, ticket: Row, severity: Severity, state: EscalationStatus, vehicle: SupportVehicle | None
    ) -> None:
        """A Microsoft case opened after the first response; its times follow its status and the ticket's."""
        rng = self.draw.rng
        responded: datetime = ticket["first_response_at"]
        ends: datetime = ticket["resolved_at"] or self.draw.horizon
        submitted = responded + min(timedelta(minutes=rng.randint(10, 240)), (ends - responded) / 3)
        resolved_at = None
        if state in (EscalationStatus.RESOLVED, EscalationStatus.CLOSED):
            resolved_at = submitted + (ends - submitted) * rng.randint(50, 95) / 100
            changed = resolved_at
            if state is EscalationStatus.CLOSED:
                changed = min(
                    resolved_at + timedelta(hours=rng.randint(1, 72)),
                    self.draw.horizon - timedelta(minutes=1),
                )
        elif state is EscalationStatus.SUBMITTED:
            changed = submitted
        else:
            changed = submitted + (ends - submitted) * rng.randint(10, 90) / 100
        case_number = ""
        while not case_number or case_number in self.case_numbers:
            case_number = f"{submitted:%y%m%d}{rng.randint(0, 9_999_999_999):010d}"
        self.case_numbers.add(case_number)
        kind = EscalationKind.TECHNICAL if vehicle else EscalationKind.COMMERCIAL
        self.rows.append(
            {
                "ticket": ticket,
                "kind": kind.value,
                "vehicle": vehicle.value if vehicle else None,
                "microsoft_case_number": case_number,
                "severity": severity.value,
                "status": state.value,
                "notes": f"{kind.value.capitalize()} case opened with Microsoft: {ticket['title']}",
                "submitted_at": submitted,
                "status_changed_at": changed,
                "resolved_at": resolved_at,
                "created_by": ticket["assignee"] or "helpdesk",
            }
        )

    def number(self) -> None:
        """Ids in order of submission, once the tickets have theirs."""
        self.rows.sort(key=lambda row: row["submitted_at"])
        for number, row in enumerate(self.rows, start=1):
            row["id"] = number
            row["ticket_id"] = row.pop("ticket")["id"]
