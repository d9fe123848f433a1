"""Helpdesk tickets over the last year, with times that agree with each ticket's status and severity."""

from __future__ import annotations

import bisect
from datetime import date, datetime, timedelta

from data_access.demo.accounts import DemoCustomer, DemoInvoice
from data_access.demo.draw import Draw, Row
from data_access.demo.escalations import EscalationChoice, Escalations
from data_access.enums import EscalationStatus, Severity, SupportVehicle, TicketCategory, TicketStatus

CHANNELS = ("email", "phone", "web", "chat")
RESPONSE_MINUTES: dict[str, tuple[int, int]] = {
    "critical": (5, 90),
    "moderate": (20, 360),
    "minimal": (45, 900),
}
RESOLUTION_MINUTES: dict[str, tuple[int, int]] = {
    "critical": (120, 900),
    "moderate": (360, 2_880),
    "minimal": (1_440, 7_200),
}
CATEGORY_WEIGHTS: dict[TicketCategory, int] = {
    TicketCategory.BILLING_QUESTION: 30,
    TicketCategory.INVOICE_DISPUTE: 8,
    TicketCategory.PAYMENT: 12,
    TicketCategory.SUBSCRIPTION_CHANGE: 20,
    TicketCategory.TECHNICAL: 22,
    TicketCategory.OTHER: 8,
}
STATUS_WEIGHTS: dict[TicketStatus, int] = {
    TicketStatus.NEW: 5,
    TicketStatus.OPEN: 50,
    TicketStatus.PENDING_CUSTOMER: 40,
    TicketStatus.ESCALATED: 25,
    TicketStatus.RESOLVED: 60,
    TicketStatus.CLOSED: 810,
}
TICKET_TITLES: dict[TicketCategory, tuple[str, ...]] = {
    TicketCategory.BILLING_QUESTION: (
        "Question about invoice {invoice}",
        "Why did our bill go up this month?",
        "Please explain the proration on invoice {invoice}",
        "Send invoices to our new accounts payable address",
    ),
    TicketCategory.INVOICE_DISPUTE: (
        "Charged for {sku} seats we removed",
        "Invoice {invoice} does not match our order",
        "Double charge on invoice {invoice}",
    ),
    TicketCategory.PAYMENT: (
        "Remittance advice for our payment",
        "Card payment declined",
        "Please confirm you received our payment for {invoice}",
        "Switching our payments to bank transfer",
    ),
    TicketCategory.SUBSCRIPTION_CHANGE: (
        "Add {seats} {sku} licenses",
        "Reduce {sku} seats at renewal",
        "Upgrade to {sku}",
        "Cancel our {sku} subscription",
    ),
    TicketCategory.TECHNICAL: (
        "Users cannot sign in to Outlook",
        "Teams calls dropping after a few minutes",
        "Azure virtual machine will not start",
        "New users do not see their {sku} license",
        "Mailbox migration stuck at 95%",
    ),
    TicketCategory.OTHER: (
        "Update our billing contact",
        "Supplier onboarding form for your company",
        "Request for a call back",
    ),
}
# Coverage on any size and seed: every category, severity and status, every escalation status, and commercial
# escalations plus technical ones through each support vehicle.
FORCED_TICKETS: tuple[tuple[TicketCategory, Severity, TicketStatus, EscalationChoice | None], ...] = (
    (TicketCategory.BILLING_QUESTION, Severity.CRITICAL, TicketStatus.NEW, None),
    (TicketCategory.PAYMENT, Severity.MODERATE, TicketStatus.OPEN, None),
    (TicketCategory.SUBSCRIPTION_CHANGE, Severity.MINIMAL, TicketStatus.PENDING_CUSTOMER, None),
    (TicketCategory.OTHER, Severity.MINIMAL, TicketStatus.RESOLVED, None),
    (
        TicketCategory.INVOICE_DISPUTE,
        Severity.MODERATE,
        TicketStatus.ESCALATED,
        (EscalationStatus.SUBMITTED, None),
    ),
    (
        TicketCategory.TECHNICAL,
        Severity.CRITICAL,
        TicketStatus.ESCALATED,
        (EscalationStatus.IN_PROGRESS, SupportVehicle.PREMIER),
    ),
    (
        TicketCategory.TECHNICAL,
        Severity.MODERATE,
        TicketStatus.ESCALATED,
        (EscalationStatus.WAITING_ON_PARTNER, SupportVehicle.ADVANCED),
    ),
    (
        TicketCategory.TECHNICAL,
        Severity.CRITICAL,
        TicketStatus.CLOSED,
        (EscalationStatus.CLOSED, SupportVehicle.SIGNATURE),
    ),
    (
        TicketCategory.BILLING_QUESTION,
        Severity.MINIMAL,
        TicketStatus.RESOLVED,
        (EscalationStatus.RESOLVED, None),
    ),
)


class Helpdesk:
    """Four tickets a customer in all, one of them for each open dispute; some escalated to Microsoft."""

    def __init__(self, draw: Draw, *, dispute_opened: dict[int, date]) -> None:
        self.draw = draw
        self.dispute_opened = dispute_opened
        self.tickets: list[Row] = []
        self.escalations = Escalations(draw)

    def ticket_times(
        self, status: TicketStatus, severity: Severity, escalated: bool
    ) -> tuple[datetime, datetime | None, datetime | None]:
        """Created, first response and resolution times that agree with the ticket's status."""
        rng = self.draw.rng
        response = timedelta(
            minutes=rng.randint(*RESPONSE_MINUTES[severity.value]) * (3 if rng.random() < 0.1 else 1)
        )
        resolution = timedelta(
            minutes=rng.randint(*RESOLUTION_MINUTES[severity.value])
            * (3 if rng.random() < 0.1 else 1)
            * (3 if escalated else 1)
        )
        if status is TicketStatus.NEW:
            return self.draw.horizon - timedelta(minutes=rng.randint(15, 600)), None, None
        if status in (TicketStatus.OPEN, TicketStatus.PENDING_CUSTOMER, TicketStatus.ESCALATED):
            age = rng.randint(1, 21) if rng.random() < 0.9 else rng.randint(22, 120)
            created = self.draw.office_time(self.draw.today - timedelta(days=age))
            return created, min(created + response, created + (self.draw.horizon - created) / 2), None
        days = resolution.days + 1
        back = (
            rng.randint(days + 1, days + 6) if status is TicketStatus.RESOLVED else rng.randint(days + 8, 365)
        )
        created = self.draw.office_time(self.draw.today - timedelta(days=back))
        return created, created + min(response, resolution / 2), created + resolution

    def record(self, customers: list[DemoCustomer], invoices: list[DemoInvoice]) -> None:
        rng = self.draw.rng
        count = len(customers) * 4
        disputes = [i for i in invoices if i.id in self.dispute_opened]
        by_onboarding = sorted(customers, key=lambda c: (c.row["created_at"], c.id))
        onboarded = [c.row["created_at"] for c in by_onboarding]
        for invoice in disputes:
            self.dispute_ticket(invoice)
        for number in range(max(len(FORCED_TICKETS), count - len(disputes))):
            if number < len(FORCED_TICKETS):
                category, severity, status, escalation = FORCED_TICKETS[number]
            else:
                category = rng.choices(list(CATEGORY_WEIGHTS), list(CATEGORY_WEIGHTS.values()))[0]
                severity = rng.choices(list(Severity), (10, 45, 45))[0]
                status = rng.choices(list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values()))[0]
                escalation = self.escalations.choose(category, status)
            created, responded, resolved = self.ticket_times(status, severity, escalation is not None)
            known = bisect.bisect_right(onboarded, created) or len(by_onboarding)
            customer = by_onboarding[rng.randrange(known)]
            ticket = self.ticket(customer, category, severity, status, created, responded, resolved)
            if escalation is not None and responded is not None:
                self.escalations.escalate(ticket, severity, *escalation)
        self.tickets.sort(key=lambda row: row["created_at"])
        for number, row in enumerate(self.tickets, start=1):
            row["id"] = number
            row["external_id"] = f"TCK-{number:06d}"
        self.escalations.number()

    def ticket(
        self,
        customer: DemoCustomer,
        category: TicketCategory,
        severity: Severity,
        status: TicketStatus,
        created: datetime,
        responded: datetime | None,
        resolved: datetime | None,
    ) -> Row:
        rng = self.draw.rng
        issued = [i for i in customer.invoices if i.issue_date <= created.date()]
        titles = [title for title in TICKET_TITLES[category] if issued or "{invoice}" not in title]
        title = rng.choice(titles).format(
            invoice=rng.choice(issued[-3:]).number if issued else "",
            sku=rng.choice(customer.subscriptions).row["sku"],
            seats=rng.randint(2, 25),
        )
        channel = rng.choice(CHANNELS)
        if status is TicketStatus.NEW:
            assignee = None
        elif category in (TicketCategory.TECHNICAL, TicketCategory.OTHER):
            assignee = rng.choice(("helpdesk", "helpdesk", "dana.whitfield", "omar.haddad"))
        else:
            assignee = rng.choice(("billing", "billing", "helpdesk", "dana.whitfield"))
        row: Row = {
            "customer_id": customer.id,
            "title": title,
            "description": f"Raised by {customer.row['billing_contact_name']} ({channel}): {title}",
            "category": category.value,
            "severity": severity.value,
            "status": status.value,
            "channel": channel,
            "assignee": assignee,
            "created_at": created,
            "first_response_at": responded,
            "resolved_at": resolved,
        }
        self.tickets.append(row)
        return row

    def dispute_ticket(self, invoice: DemoInvoice) -> None:
        opened = self.dispute_opened[invoice.id]
        created = min(self.draw.office_time(opened), self.draw.horizon - timedelta(hours=2))
        responded = created + min(
            timedelta(minutes=self.draw.rng.randint(30, 300)), (self.draw.horizon - created) / 2
        )
        status = self.draw.rng.choice((TicketStatus.OPEN, TicketStatus.PENDING_CUSTOMER))
        row = self.ticket(
            invoice.customer,
            TicketCategory.INVOICE_DISPUTE,
            Severity.MODERATE,
            status,
            created,
            responded,
            None,
        )
        row["title"] = f"Dispute on invoice {invoice.number}"
