"""Deterministic demo data for a CSP partner: customers, subscriptions, two years of billing, tickets, policies.

Everything is drawn from one `random.Random(seed)` and dated relative to `today`, so the same seed and day give
the same rows. Payments and credit notes are replayed in date order under the ledger's own rules (a payment pays
the invoice it names, or else the customer's oldest open invoices; what no open invoice absorbs stays unapplied),
so every stored open balance agrees with its allocations and credit notes. A few customers are placed on purpose
in each overdue range of the default collections policy, so every stage of it has someone to act on.
"""

from __future__ import annotations

import bisect
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from data_access import clock
from data_access.db import get_engine, transaction
from data_access.errors import InvalidAction
from data_access.models import (
    ActivityKind,
    Base,
    BillingCycle,
    CollectionsActivity,
    CollectionsPolicy,
    CreditNote,
    Customer,
    Escalation,
    EscalationKind,
    EscalationStatus,
    Holiday,
    Invoice,
    MicrosoftInvoice,
    Payment,
    PaymentAllocation,
    PolicyStage,
    Severity,
    StageAction,
    Subscription,
    SubscriptionStatus,
    SupportOffering,
    SupportTarget,
    SupportVehicle,
    Ticket,
    TicketCategory,
    TicketStatus,
)
from data_access.money import from_cents

Row = dict[str, Any]

MONTHS = 24
OFFICE = ZoneInfo("America/New_York")
BILLING = "billing"
SALES_AGENTS = ("sales", "alex.morgan", "jamie.chen", "priya.shah")
CHANNELS = ("email", "phone", "web", "chat")
MINIMUM_OVERDUE_CENTS = 5_000
GRACE_DAYS = 5
SUSPENSION_DAYS = 45
# The default policy's ranges of days past due; the last one stands for 90+, capped where arrears began
# 3-8 months ago.
OVERDUE_RANGES: tuple[tuple[int, int], ...] = ((1, 14), (15, 29), (30, 44), (45, 89), (90, 250))
TARGET_MINIMUM_INVOICE_CENTS = 10_000


@dataclass(frozen=True)
class Market:
    """A country's billing currency, naming habits, share of customers and price level against US dollars."""

    currency: str
    domain_suffix: str
    company_suffixes: tuple[str, ...]
    weight: int
    price_percent: int
    usd_percent: int


MARKETS: dict[str, Market] = {
    "US": Market("USD", "com", ("Inc.", "LLC", "Corp."), 45, 100, 100),
    "GB": Market("GBP", "co.uk", ("Ltd", "plc", "LLP"), 15, 80, 127),
    "DE": Market("EUR", "de", ("GmbH", "AG", "KG"), 10, 92, 108),
    "NL": Market("EUR", "nl", ("B.V.", "N.V."), 7, 92, 108),
    "FR": Market("EUR", "fr", ("SAS", "SARL", "SA"), 7, 92, 108),
    "AU": Market("AUD", "com.au", ("Pty Ltd",), 8, 152, 66),
    "CA": Market("CAD", "ca", ("Inc.", "Ltd."), 8, 137, 73),
}


@dataclass(frozen=True)
class Sku:
    """A product on the price list: US list price per unit and month, and how its quantity follows company size."""

    product: str
    name: str
    usd_cents: int
    sizing: str


SKUS: dict[str, Sku] = {
    sku.name: sku
    for sku in (
        Sku("Microsoft 365", "Microsoft 365 Business Basic", 600, "suite"),
        Sku("Microsoft 365", "Microsoft 365 Business Standard", 1_250, "suite"),
        Sku("Microsoft 365", "Microsoft 365 Business Premium", 2_200, "suite"),
        Sku("Microsoft 365", "Microsoft 365 E3", 3_600, "suite"),
        Sku("Microsoft 365", "Microsoft 365 E5", 5_700, "suite"),
        Sku("Azure plan", "Azure plan", 0, "usage"),
        Sku("Dynamics 365", "Dynamics 365 Sales Enterprise", 10_500, "team"),
        Sku("Dynamics 365", "Dynamics 365 Business Central Essentials", 8_000, "team"),
        Sku("Microsoft Teams", "Microsoft Teams Essentials", 400, "suite"),
        Sku("Microsoft Teams", "Teams Phone Standard", 1_000, "addon"),
        Sku("Microsoft Teams", "Teams Rooms Pro", 4_000, "rooms"),
    )
}
# Business plans stop at 300 seats, so larger companies buy Enterprise suites.
SUITES_BY_SIZE: dict[str, dict[str, int]] = {
    "small": {
        "Microsoft 365 Business Basic": 35,
        "Microsoft 365 Business Standard": 40,
        "Microsoft 365 Business Premium": 25,
    },
    "medium": {
        "Microsoft 365 Business Standard": 30,
        "Microsoft 365 Business Premium": 45,
        "Microsoft 365 E3": 25,
    },
    "large": {"Microsoft 365 E3": 60, "Microsoft 365 E5": 40},
}
SEATS_BY_SIZE: dict[str, tuple[int, int, int]] = {
    "small": (5, 50, 50),
    "medium": (51, 300, 38),
    "large": (301, 500, 12),
}
AZURE_USD_CENTS_BY_SIZE: dict[str, tuple[int, int]] = {
    "small": (20_000, 200_000),
    "medium": (100_000, 800_000),
    "large": (400_000, 2_000_000),
}
ADD_ONS: dict[str, int] = {
    "Azure plan": 30,
    "Teams Phone Standard": 20,
    "Teams Rooms Pro": 10,
    "Dynamics 365 Sales Enterprise": 8,
    "Dynamics 365 Business Central Essentials": 10,
    "Microsoft Teams Essentials": 4,
    "Microsoft 365 E5": 8,
    "Microsoft 365 Business Premium": 5,
}
ADDITIONAL_STATUSES: dict[SubscriptionStatus, int] = {
    SubscriptionStatus.ACTIVE: 78,
    SubscriptionStatus.PENDING: 6,
    SubscriptionStatus.EXPIRED: 8,
    SubscriptionStatus.DELETED: 6,
    SubscriptionStatus.DISABLED: 2,
}

# fmt: off
COMPANY_WORDS = (
    "Northwind", "Blue Harbor", "Summit", "Riverbend", "Alder", "Crescent", "Ironbridge", "Maple", "Granite",
    "Lakeside", "Silverline", "Oakridge", "Harbor Point", "Brightwater", "Redwood", "Kestrel", "Meridian",
    "Copperfield", "Evergreen", "Falcon", "Highgate", "Juniper", "Lighthouse", "Moorland", "Pinecrest",
    "Quayside", "Stonebridge", "Thornbury", "Westbrook", "Wildflower", "Beacon", "Cobalt", "Foxglove",
    "Larkspur", "Orchard", "Sterling", "Trident", "Vantage", "Willow", "Zephyr",
)
COMPANY_TRADES = (
    "Logistics", "Dental", "Legal", "Engineering", "Foods", "Consulting", "Architects", "Accounting", "Health",
    "Manufacturing", "Properties", "Media", "Travel", "Energy", "Pharma", "Retail", "Construction", "Insurance",
    "Veterinary", "Analytics", "Freight", "Hospitality", "Education", "Robotics", "Design",
)
FIRST_NAMES = (
    "Anna", "Ben", "Chloe", "David", "Elena", "Felix", "Grace", "Hannah", "Ivan", "Julia", "Kai", "Laura",
    "Marco", "Nina", "Oliver", "Paula", "Rafael", "Sofia", "Tom", "Vera", "Wei", "Yusuf", "Zoe", "Lars",
)
LAST_NAMES = (
    "Adams", "Becker", "Carter", "Dubois", "Evans", "Fischer", "Garcia", "Hughes", "Jansen", "Kowalski",
    "Lambert", "Martin", "Nguyen", "Okafor", "Patel", "Quinn", "Reyes", "Schmidt", "Taylor", "Visser",
    "Walsh", "Young", "Moreau", "Murphy",
)
# fmt: on

PAYMENT_METHODS: dict[str, str] = {"USD": "ACH", "GBP": "BACS", "EUR": "SEPA", "AUD": "EFT", "CAD": "EFT"}

POLICY_STAGES: tuple[tuple[int, StageAction, str, str], ...] = (
    (
        1,
        StageAction.REMINDER,
        "Friendly reminder",
        "Hello {customer_name}, a friendly reminder that {currency} {overdue_amount} is past due on your account; "
        "the oldest invoice, {oldest_invoice}, is {days_past_due} days past due. If you have already paid, thank "
        "you, and please ignore this message.",
    ),
    (
        15,
        StageAction.REMINDER,
        "Second reminder",
        "Hello {customer_name}, we have not yet received {currency} {overdue_amount}, now {days_past_due} days "
        "past due (oldest invoice {oldest_invoice}). Please pay, or tell us when to expect payment.",
    ),
    (
        30,
        StageAction.FINAL_NOTICE,
        "Final notice",
        "{customer_name}: final notice. {currency} {overdue_amount} is {days_past_due} days past due (oldest "
        "invoice {oldest_invoice}). A balance still unpaid 45 days after its due date makes your Microsoft "
        "subscriptions eligible for suspension.",
    ),
    (
        45,
        StageAction.SUSPENSION_ELIGIBLE,
        "Suspension",
        "{customer_name}: {currency} {overdue_amount} is {days_past_due} days past due (oldest invoice "
        "{oldest_invoice}). Your Microsoft subscriptions are eligible for suspension and may be suspended after "
        "a grace period of 5 days without further notice.",
    ),
    (
        90,
        StageAction.REVIEW_FOR_CANCELLATION,
        "Review for cancellation / agency",
        "{customer_name}: {currency} {overdue_amount} is {days_past_due} days past due (oldest invoice "
        "{oldest_invoice}). Your account is under review for cancellation of your subscriptions and referral to "
        "a collection agency. Please contact us today.",
    ),
)
STATEMENT_INTRO = (
    "Please pay every invoice by the due date shown on it. When a balance stays unpaid, we take the steps "
    "below, counted in days past the due date of your oldest unpaid invoice. Balances under 50.00 in your "
    "billing currency start no step, and an invoice you dispute is set aside while we look into it. Access to "
    "your Microsoft subscriptions is suspended only after the suspension step and a further grace period."
)
SUPPORT_TARGETS: dict[Severity, tuple[int, int]] = {
    Severity.CRITICAL: (1, 8),
    Severity.MODERATE: (4, 24),
    Severity.MINIMAL: (8, 40),
}
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
ESCALATION_CHANCE_PERCENT: dict[TicketCategory, int] = {
    TicketCategory.BILLING_QUESTION: 3,
    TicketCategory.INVOICE_DISPUTE: 8,
    TicketCategory.PAYMENT: 2,
    TicketCategory.SUBSCRIPTION_CHANGE: 6,
    TicketCategory.TECHNICAL: 10,
    TicketCategory.OTHER: 4,
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
FORCED_TICKETS: tuple[
    tuple[TicketCategory, Severity, TicketStatus, tuple[EscalationStatus, SupportVehicle | None] | None], ...
] = (
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


@dataclass
class _Subscription:
    row: Row
    charges: list[int]


@dataclass
class _Customer:
    row: Row
    market: Market
    start: int
    size: str
    seats: int
    subscriptions: list[_Subscription] = field(default_factory=list)
    invoices: list[_Invoice] = field(default_factory=list)
    late: bool = False
    unreferenced: bool = False
    disputes: bool = False
    target: tuple[int, int] | None = None
    stop: int | None = None

    @property
    def id(self) -> int:
        return int(self.row["id"])

    @property
    def currency(self) -> str:
        return str(self.row["currency"])

    @property
    def exempt(self) -> bool:
        return bool(self.row["exempt_from_collections"])

    def monthly_charge(self, month: int) -> int:
        return sum(subscription.charges[month] for subscription in self.subscriptions)


@dataclass
class _Invoice:
    customer: _Customer
    month: int
    issue_date: date
    due_date: date
    amount_cents: int
    open_cents: int
    disputed: bool = False
    id: int = 0
    number: str = ""
    settled_on: date | None = None

    def row(self) -> Row:
        return {
            "id": self.id,
            "number": self.number,
            "customer_id": self.customer.id,
            "issue_date": self.issue_date,
            "due_date": self.due_date,
            "amount_cents": self.amount_cents,
            "open_cents": self.open_cents,
            "currency": self.customer.currency,
            "disputed": self.disputed,
        }


@dataclass(frozen=True)
class _PaymentPlan:
    """How much to pay is decided when the payment is replayed: `rule` is rest, part, short, over or again."""

    day: date
    invoice: _Invoice
    rule: str
    cents: int
    named: bool
    reference: str
    recorded_at: datetime


@dataclass(frozen=True)
class _CreditPlan:
    day: date
    invoice: _Invoice
    cents: int
    reason: str


def _add_months(first_of_month: date, months: int) -> date:
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _local_price(usd_cents: int, market: Market) -> int:
    return (usd_cents * market.price_percent + 500) // 1000 * 10


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    if nth > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))
    last = _add_months(date(year, month, 1), 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    shift = {5: -1, 6: 1}.get(day.weekday(), 0)
    return day + timedelta(days=shift)


def _us_holidays(year: int) -> list[tuple[date, str]]:
    return [
        (_observed(date(year, 1, 1)), "New Year's Day"),
        (_nth_weekday(year, 5, 0, -1), "Memorial Day"),
        (_observed(date(year, 7, 4)), "Independence Day"),
        (_nth_weekday(year, 9, 0, 1), "Labor Day"),
        (_nth_weekday(year, 11, 3, 4), "Thanksgiving Day"),
        (_observed(date(year, 12, 25)), "Christmas Day"),
    ]


class _Demo:
    """The whole demo data set, drawn in a fixed order from one random generator."""

    def __init__(self, *, customers: int, seed: int, today: date) -> None:
        self.rng = random.Random(seed)
        self.customer_count = customers
        self.today = today
        self.yesterday = today - timedelta(days=1)
        self.horizon = datetime.combine(today, time(0), UTC)
        self.first_month = _add_months(today.replace(day=1), -(MONTHS - 1))
        self.customers: list[_Customer] = []
        self.invoices: list[_Invoice] = []
        self.plans: list[tuple[date, int, int, _PaymentPlan | _CreditPlan]] = []
        self.payments: list[Row] = []
        self.allocations: list[Row] = []
        self.credit_notes: list[Row] = []
        self.activities: list[Row] = []
        self.tickets: list[Row] = []
        self.escalations: list[Row] = []
        self.dispute_opened: dict[int, date] = {}
        self.suspended: dict[int, datetime] = {}
        self.subscription_count = 0
        self.case_numbers: set[str] = set()

    def month(self, index: int) -> date:
        return _add_months(self.first_month, index)

    def office_time(self, day: date) -> datetime:
        """A moment on `day` between 08:00 and 18:00 in New York, in UTC (still the same day in UTC)."""
        minute = self.rng.randint(8 * 60, 18 * 60 - 1)
        return datetime.combine(day, time(minute // 60, minute % 60), OFFICE).astimezone(UTC)

    def tables(self) -> dict[type[Base], list[Row]]:
        self.draw_customers()
        self.place_overdue_customers()
        self.draw_invoices()
        self.plan_payments()
        self.replay()
        self.suspend_for_non_payment()
        self.draw_collections_activities()
        self.draw_tickets()
        return {
            Customer: [customer.row for customer in self.customers],
            Subscription: [s.row for customer in self.customers for s in customer.subscriptions],
            Invoice: [invoice.row() for invoice in self.invoices],
            Payment: self.payments,
            PaymentAllocation: self.allocations,
            CreditNote: self.credit_notes,
            CollectionsActivity: self.activities,
            CollectionsPolicy: [self.policy()],
            PolicyStage: self.policy_stages(),
            SupportOffering: [self.support_offering()],
            SupportTarget: self.support_targets(),
            Holiday: self.holidays(),
            Ticket: self.tickets,
            Escalation: self.escalations,
            MicrosoftInvoice: self.microsoft_invoices(),
        }

    def company_words(self, taken: set[str]) -> str:
        for _attempt in range(40):
            words = f"{self.rng.choice(COMPANY_WORDS)} {self.rng.choice(COMPANY_TRADES)}"
            if words not in taken:
                break
        else:
            words = f"{words} {len(taken) + 1}"
        taken.add(words)
        return words

    def draw_customers(self) -> None:
        rng = self.rng
        taken: set[str] = set()
        for number in range(1, self.customer_count + 1):
            country = rng.choices(list(MARKETS), [m.weight for m in MARKETS.values()])[0]
            market = MARKETS[country]
            words = self.company_words(taken)
            domain = f"{words.lower().replace(' ', '')}.{market.domain_suffix}"
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            email = rng.choice((f"{first}.{last}@{domain}".lower(), f"accounts@{domain}", f"ap@{domain}"))
            start = 0 if rng.random() < 0.75 else rng.randint(1, MONTHS - 2)
            onboarding_days = rng.randint(30, 1_500) if start == 0 else rng.randint(5, 40)
            size = rng.choices(list(SEATS_BY_SIZE), [w for _, _, w in SEATS_BY_SIZE.values()])[0]
            low, high, _weight = SEATS_BY_SIZE[size]
            customer = _Customer(
                row={
                    "id": number,
                    "external_id": f"CUST-{number:05d}",
                    "name": f"{words} {rng.choice(market.company_suffixes)}",
                    "tenant_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "domain": domain,
                    "country": country,
                    "currency": market.currency,
                    "account_manager": rng.choice(SALES_AGENTS),
                    "payment_terms_days": rng.choices((30, 14, 45, 60), (70, 10, 10, 10))[0],
                    "credit_limit_cents": None,
                    "billing_contact_name": f"{first} {last}",
                    "billing_contact_email": email,
                    "exempt_from_collections": False,
                    "created_at": self.office_time(self.month(start) - timedelta(days=onboarding_days)),
                },
                market=market,
                start=start,
                size=size,
                seats=rng.randint(low, high),
            )
            self.draw_subscriptions(customer)
            peak = max(customer.monthly_charge(m) for m in range(MONTHS))
            customer.row["credit_limit_cents"] = max(100_000, -(-peak * 3 // 100_000) * 100_000)
            self.customers.append(customer)

    def draw_subscriptions(self, customer: _Customer) -> None:
        rng = self.rng
        suites = SUITES_BY_SIZE[customer.size]
        names = [rng.choices(list(suites), list(suites.values()))[0]]
        count = rng.choices((1, 2, 3, 4, 5, 6), (15, 25, 25, 18, 10, 7))[0]
        while len(names) < count:
            pool = [name for name in ADD_ONS if name not in names]
            names.append(rng.choices(pool, [ADD_ONS[name] for name in pool])[0])
        for position, name in enumerate(names):
            status = SubscriptionStatus.ACTIVE
            if position > 0:
                status = rng.choices(list(ADDITIONAL_STATUSES), list(ADDITIONAL_STATUSES.values()))[0]
            subscription = self.subscription(customer, SKUS[name], status, first=position == 0)
            self.subscription_count += 1
            subscription.row["id"] = self.subscription_count
            customer.subscriptions.append(subscription)

    def quantity(self, customer: _Customer, sku: Sku, *, first: bool) -> int:
        seats = customer.seats
        if sku.sizing == "usage":
            return 1
        if sku.sizing == "rooms":
            return self.rng.randint(1, max(1, min(20, seats // 15)))
        if sku.sizing == "suite" and first:
            return seats
        share = {"suite": (5, 30), "addon": (10, 60), "team": (5, 25)}[sku.sizing]
        return max(5, seats * self.rng.randint(*share) // 100)

    def subscription(
        self, customer: _Customer, sku: Sku, status: SubscriptionStatus, *, first: bool
    ) -> _Subscription:
        rng = self.rng
        if status in (
            SubscriptionStatus.EXPIRED,
            SubscriptionStatus.DELETED,
            SubscriptionStatus.DISABLED,
        ) and (customer.start > MONTHS - 3):
            status = SubscriptionStatus.ACTIVE
        if first:
            start, end = customer.start, MONTHS
        elif status is SubscriptionStatus.PENDING:
            start = end = MONTHS
        elif status is SubscriptionStatus.ACTIVE:
            start = customer.start if rng.random() < 0.6 else rng.randint(customer.start, MONTHS - 1)
            end = MONTHS
        else:
            start = rng.randint(customer.start, MONTHS - 3)
            end = rng.randint(start + 1, MONTHS - 1)
        quantity = self.quantity(customer, sku, first=first)
        if sku.sizing == "usage":
            low, high = AZURE_USD_CENTS_BY_SIZE[customer.size]
            base = _local_price(rng.randint(low, high), customer.market)
            charges = [base * rng.randint(85, 115) // 100 if start <= m < end else 0 for m in range(MONTHS)]
            unit_price = charges[min(end, MONTHS) - 1] if end > start else base
            term_end = None
        else:
            unit_price = _local_price(sku.usd_cents, customer.market)
            charges = [quantity * unit_price if start <= m < end else 0 for m in range(MONTHS)]
            term_end = self.term_end(start, end)
        row: Row = {
            "external_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "customer_id": customer.id,
            "product": sku.product,
            "sku": sku.name,
            "quantity": quantity,
            "unit_price_cents": unit_price,
            "billing_cycle": BillingCycle.MONTHLY.value,
            "term_end": term_end,
            "status": status.value,
            "suspension_reason": None,
            "suspended_by": None,
            "suspended_at": None,
        }
        return _Subscription(row=row, charges=charges)

    def term_end(self, start: int, end: int) -> date:
        """Annual terms: the anniversary after today for live subscriptions, the month billing ended otherwise."""
        if end < MONTHS:
            return self.month(end) - timedelta(days=1)
        renewal = self.month(start)
        while renewal <= self.today:
            renewal = _add_months(renewal, 12)
        return renewal - timedelta(days=1)

    def place_overdue_customers(self) -> None:
        """Customers whose oldest unpaid invoice sits, on purpose, in each overdue range of the policy."""
        rng = self.rng
        candidates = [c for c in self.customers if c.start == 0]
        rng.shuffle(candidates)
        per_range = max(1, min(max(3, self.customer_count // 30), len(candidates) // 6))
        pool = iter(candidates)
        for low, high in OVERDUE_RANGES:
            placed = 0
            for customer in pool:
                found = self.first_unpaid_invoice(customer, low, high)
                if found is not None:
                    customer.row["payment_terms_days"], customer.stop = found
                    customer.target = (low, high)
                    placed += 1
                if placed == per_range:
                    break
        others = [c for c in self.customers if c.target is None]
        rng.shuffle(others)
        exempt_count = max(1, self.customer_count // 50)
        dispute_count = max(2, self.customer_count // 25)
        for customer in others[:exempt_count]:
            customer.row["exempt_from_collections"] = True
        seasoned = [c for c in others[exempt_count:] if c.start <= MONTHS - 6]
        for customer in seasoned[:dispute_count]:
            customer.disputes = True
        for customer in others:
            customer.late = rng.random() < 0.15
            customer.unreferenced = not customer.disputes and rng.random() < 0.04
        if others:
            # An exempt account that pays late shows the policy leaving it alone.
            others[0].late = True

    def first_unpaid_invoice(self, customer: _Customer, low: int, high: int) -> tuple[int, int] | None:
        """Payment terms and month whose invoice is `low`..`high` days past due today, preferring usual terms."""
        usual = [customer.row["payment_terms_days"], *self.rng.sample((30, 14, 45, 60), 4)]
        for terms in [*usual, *range(7, 91)]:
            months = [
                m
                for m in range(customer.start, MONTHS)
                if low <= (self.today - self.month(m)).days - terms <= high
                and customer.monthly_charge(m) >= TARGET_MINIMUM_INVOICE_CENTS
            ]
            if months:
                return terms, self.rng.choice(months)
        return None

    def draw_invoices(self) -> None:
        for customer in self.customers:
            terms = timedelta(days=customer.row["payment_terms_days"])
            for month in range(customer.start, MONTHS):
                amount = customer.monthly_charge(month)
                issued = self.month(month)
                invoice = _Invoice(customer, month, issued, issued + terms, amount, amount)
                customer.invoices.append(invoice)
                self.invoices.append(invoice)
        self.invoices.sort(key=lambda invoice: (invoice.issue_date, invoice.customer.id))
        for number, invoice in enumerate(self.invoices, start=1):
            invoice.id = number
            invoice.number = f"INV-{invoice.issue_date.year}-{invoice.issue_date.month:02d}-{number:06d}"

    def pay(
        self, day: date, invoice: _Invoice, rule: str = "rest", cents: int = 0, *, named: bool = True
    ) -> _PaymentPlan:
        method = PAYMENT_METHODS[invoice.customer.currency] if self.rng.random() < 0.9 else "CARD"
        reference = f"{method} {self.rng.randint(10_000_000, 99_999_999)}"
        if named:
            reference = f"{reference} {invoice.number}"
        plan = _PaymentPlan(day, invoice, rule, cents, named, reference, self.office_time(day))
        self.plans.append((day, 1, len(self.plans), plan))
        return plan

    def credit(self, day: date, invoice: _Invoice, cents: int, reason: str) -> None:
        if day <= self.today:
            self.plans.append((day, 0, len(self.plans), _CreditPlan(day, invoice, cents, reason)))

    def plan_payments(self) -> None:
        for customer in self.customers:
            if customer.stop is not None:
                self.plan_stopped_payer(customer, customer.stop - customer.start)
                continue
            disputed: _Invoice | None = None
            if customer.disputes:
                recent = [i for i in customer.invoices[-6:-1] if i.due_date < self.today - timedelta(days=5)]
                disputed = self.rng.choice(recent) if recent else None
            for invoice in customer.invoices:
                if invoice is disputed:
                    self.plan_dispute(invoice)
                else:
                    self.plan_invoice(customer, invoice)

    def plan_stopped_payer(self, customer: _Customer, stop: int) -> None:
        rng = self.rng
        for invoice in customer.invoices[:stop]:
            day = max(
                invoice.issue_date + timedelta(days=1), invoice.due_date + timedelta(days=rng.randint(-10, 3))
            )
            self.pay(min(day, self.yesterday), invoice)
        unpaid = customer.invoices[stop]
        latest = min(unpaid.due_date + timedelta(days=10), self.yesterday)
        earliest = unpaid.issue_date + timedelta(days=1)
        if rng.random() < 0.35 and earliest <= latest:
            day = earliest + timedelta(days=rng.randint(0, (latest - earliest).days))
            self.pay(day, unpaid, "part", unpaid.amount_cents * rng.randint(20, 50) // 100)

    def plan_dispute(self, invoice: _Invoice) -> None:
        """A disputed invoice stays open; half the customers pay the part they do not dispute."""
        rng = self.rng
        invoice.disputed = True
        opened = invoice.issue_date + timedelta(days=rng.randint(3, 12))
        self.dispute_opened[invoice.id] = min(opened, self.yesterday)
        if rng.random() < 0.5:
            day = min(invoice.due_date + timedelta(days=rng.randint(-5, 5)), self.yesterday)
            self.pay(
                max(day, invoice.issue_date + timedelta(days=1)),
                invoice,
                "part",
                invoice.amount_cents * rng.randint(60, 85) // 100,
            )

    def plan_invoice(self, customer: _Customer, invoice: _Invoice) -> None:
        rng = self.rng
        lag = rng.randint(15, 60) if customer.late else rng.randint(-12, 4)
        day = max(invoice.issue_date + timedelta(days=1), invoice.due_date + timedelta(days=lag))
        corrected = 0
        roll = rng.random()
        if roll < 0.03:
            credited_on = invoice.issue_date + timedelta(days=rng.randint(1, 10))
            corrected = invoice.amount_cents * rng.randint(3, 15) // 100
            reason = "pricing correction" if roll < 0.02 else "service credit"
            if corrected > 0:
                self.credit(credited_on, invoice, corrected, reason)
                day = max(day, credited_on + timedelta(days=1))
        if day > self.yesterday:
            return
        named = not customer.unreferenced and (customer.disputes or rng.random() > 0.01)
        roll = rng.random()
        if roll < 0.04:
            first = invoice.amount_cents * rng.randint(40, 70) // 100
            earlier = max(invoice.issue_date + timedelta(days=1), day - timedelta(days=rng.randint(5, 20)))
            self.pay(earlier, invoice, "part", first, named=named)
            self.pay(day, invoice, named=named)
        elif roll < 0.05:
            shortfall = min(rng.randint(100, 2_500), invoice.amount_cents // 2)
            self.pay(day, invoice, "short", shortfall, named=named)
            self.credit(day + timedelta(days=rng.randint(20, 60)), invoice, 0, "write-off")
        elif roll < 0.0515 or (corrected and roll < 0.1):
            self.pay(day, invoice, "over", corrected or rng.randint(500, 20_000))
        elif roll < 0.0525:
            self.pay(day, invoice, named=named)
            self.pay(day, invoice, "again")
        else:
            self.pay(day, invoice, named=named)

    def replay(self) -> None:
        """Credit notes and payments in date order, under the same rules as `data_access.ledger`."""
        for _day, _rank, _sequence, plan in sorted(self.plans, key=lambda entry: entry[:3]):
            if isinstance(plan, _CreditPlan):
                self.replay_credit(plan)
            else:
                self.replay_payment(plan)
        self.ensure_unapplied_credit()

    def replay_credit(self, plan: _CreditPlan) -> None:
        invoice = plan.invoice
        cents = min(plan.cents or invoice.open_cents, invoice.open_cents)
        if cents <= 0:
            return
        invoice.open_cents -= cents
        if invoice.open_cents == 0:
            invoice.settled_on = plan.day
        number = len(self.credit_notes) + 1
        self.credit_notes.append(
            {
                "id": number,
                "number": f"CN-{plan.day.year}-{number:06d}",
                "invoice_id": invoice.id,
                "issued_on": plan.day,
                "amount_cents": cents,
                "reason": plan.reason,
                **self.copied(invoice),
            }
        )

    def replay_payment(self, plan: _PaymentPlan) -> None:
        invoice = plan.invoice
        cents = {
            "rest": invoice.open_cents,
            "part": min(plan.cents, invoice.open_cents),
            "short": invoice.open_cents - plan.cents,
            "over": invoice.open_cents + plan.cents,
            "again": invoice.amount_cents,
        }[plan.rule]
        if cents <= 0:
            return
        payment: Row = {
            "id": len(self.payments) + 1,
            "customer_id": invoice.customer.id,
            "invoice_id": invoice.id if plan.named else None,
            "received_on": plan.day,
            "amount_cents": cents,
            "currency": invoice.customer.currency,
            "unapplied_cents": cents,
            "reference": plan.reference,
            "recorded_at": plan.recorded_at,
        }
        self.payments.append(payment)
        if plan.named:
            targets = [invoice] if invoice.open_cents > 0 else []
        else:
            targets = sorted(
                (i for i in invoice.customer.invoices if i.open_cents > 0 and i.issue_date <= plan.day),
                key=lambda i: (i.due_date, i.issue_date, i.id),
            )
        for target in targets:
            if payment["unapplied_cents"] == 0:
                break
            applied = min(target.open_cents, payment["unapplied_cents"])
            target.open_cents -= applied
            payment["unapplied_cents"] -= applied
            if target.open_cents == 0:
                target.settled_on = plan.day
            self.allocations.append(
                {
                    "id": len(self.allocations) + 1,
                    "payment_id": payment["id"],
                    "invoice_id": target.id,
                    "applied_on": max(plan.day, target.issue_date),
                    "amount_cents": applied,
                    **self.copied(target),
                }
            )

    def ensure_unapplied_credit(self) -> None:
        """At least one customer holds unapplied credit whatever the draw: a duplicate payment of a paid invoice."""
        if any(payment["unapplied_cents"] > 0 for payment in self.payments):
            return
        paid = [i for i in self.invoices if i.settled_on is not None and i.customer.target is None]
        if paid:
            invoice = paid[-1]
            day = min(invoice.settled_on or self.yesterday, self.yesterday)
            self.replay_payment(self.pay(day, invoice, "again"))

    @staticmethod
    def copied(invoice: _Invoice) -> Row:
        return {
            "customer_id": invoice.customer.id,
            "currency": invoice.customer.currency,
            "issue_date": invoice.issue_date,
            "due_date": invoice.due_date,
        }

    def overdue(self, customer: _Customer) -> list[_Invoice]:
        """Open invoices past their due date that the collections clock counts (disputed ones stop it)."""
        return [
            i for i in customer.invoices if i.open_cents > 0 and i.due_date < self.today and not i.disputed
        ]

    def suspend_for_non_payment(self) -> None:
        """Deep arrears lose access to everything live; some customers past suspension plus grace lose their suite."""
        rng = self.rng
        for customer in self.customers:
            overdue = self.overdue(customer)
            if customer.target is None or customer.exempt or not overdue:
                continue
            days = (self.today - overdue[0].due_date).days
            if days <= SUSPENSION_DAYS + GRACE_DAYS or (days < 90 and rng.random() < 0.5):
                continue
            live = [s for s in customer.subscriptions if s.row["status"] == SubscriptionStatus.ACTIVE.value]
            chosen = live if days >= 90 else live[:1]
            earliest = SUSPENSION_DAYS + GRACE_DAYS
            when = self.office_time(overdue[0].due_date + timedelta(days=rng.randint(earliest, days - 1)))
            for subscription in chosen:
                subscription.row.update(
                    status=SubscriptionStatus.SUSPENDED.value,
                    suspension_reason=f"Non-payment: invoice {overdue[0].number} more than "
                    f"{SUSPENSION_DAYS} days past due",
                    suspended_by=BILLING,
                    suspended_at=when,
                )
            if chosen:
                self.suspended[customer.id] = when

    def activity(
        self,
        customer: _Customer,
        day: date,
        kind: ActivityKind,
        notes: str,
        *,
        invoice: _Invoice | None = None,
        occurred_at: datetime | None = None,
        promised_amount_cents: int | None = None,
        promised_for: date | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        if day >= self.today:
            return
        self.activities.append(
            {
                "customer_id": customer.id,
                "invoice_id": invoice.id if invoice else None,
                "kind": kind.value,
                "occurred_at": occurred_at or self.office_time(day),
                "actor": BILLING,
                "notes": notes,
                "promised_amount_cents": promised_amount_cents,
                "promised_for": promised_for,
                "details": details,
            }
        )

    def draw_collections_activities(self) -> None:
        for customer in self.customers:
            self.past_chasing(customer)
            overdue = self.overdue(customer)
            if not customer.exempt and sum(i.open_cents for i in overdue) >= MINIMUM_OVERDUE_CENTS:
                self.current_chasing(customer, overdue)
            for invoice in customer.invoices:
                if invoice.id in self.dispute_opened:
                    self.activity(
                        customer,
                        self.dispute_opened[invoice.id],
                        ActivityKind.DISPUTE_OPENED,
                        f"Customer disputes invoice {invoice.number}; clock stopped while we check.",
                        invoice=invoice,
                    )
        self.resolved_disputes()
        self.activities.sort(key=lambda row: (row["occurred_at"], row["customer_id"]))
        for number, row in enumerate(self.activities, start=1):
            row["id"] = number

    def past_chasing(self, customer: _Customer) -> None:
        """Reminders and calls that chased invoices paid late during the last year."""
        if customer.exempt:
            return
        year_ago = self.today - timedelta(days=365)
        for invoice in customer.invoices:
            if invoice.settled_on is None or invoice.due_date < year_ago:
                continue
            late = (invoice.settled_on - invoice.due_date).days
            if late < 2 or invoice.amount_cents < MINIMUM_OVERDUE_CENTS:
                continue
            self.activity(
                customer,
                invoice.due_date + timedelta(days=1),
                ActivityKind.REMINDER_SENT,
                f"Friendly reminder sent for invoice {invoice.number}.",
                invoice=invoice,
            )
            if late > 15:
                self.activity(
                    customer,
                    invoice.due_date + timedelta(days=15),
                    ActivityKind.REMINDER_SENT,
                    f"Second reminder sent for invoice {invoice.number}.",
                    invoice=invoice,
                )
            if late > 25 and self.rng.random() < 0.6:
                self.activity(
                    customer,
                    invoice.due_date + timedelta(days=self.rng.randint(16, late - 1)),
                    ActivityKind.CALL,
                    f"Called {customer.row['billing_contact_name']}: payment run scheduled.",
                    invoice=invoice,
                )

    def current_chasing(self, customer: _Customer, overdue: list[_Invoice]) -> None:
        """What billing has done so far about today's overdue balance, stage by stage of the policy."""
        rng = self.rng
        oldest = overdue[0]
        days = (self.today - oldest.due_date).days
        due = oldest.due_date
        amount = f"{customer.currency} {from_cents(sum(i.open_cents for i in overdue))}"
        for offset, _action, name, _template in POLICY_STAGES[:3]:
            if days > offset:
                self.activity(
                    customer,
                    due + timedelta(days=offset),
                    ActivityKind.REMINDER_SENT,
                    f"{name} sent: {amount} past due.",
                    invoice=oldest,
                )
        if days > 20:
            self.activity(
                customer,
                due + timedelta(days=rng.randint(16, 20)),
                ActivityKind.CALL,
                rng.choice(
                    (
                        "Left a voicemail for accounts payable.",
                        "Spoke to the billing contact; invoice is with their approver.",
                        "No answer; will try again next week.",
                    )
                ),
                invoice=oldest,
            )
        if days > 25 and rng.random() < 0.6:
            promised_on = due + timedelta(days=rng.randint(21, days - 1))
            self.activity(
                customer,
                promised_on,
                ActivityKind.PROMISE_TO_PAY,
                f"Promised to pay invoice {oldest.number}.",
                invoice=oldest,
                promised_amount_cents=oldest.open_cents,
                promised_for=promised_on + timedelta(days=rng.randint(5, 14)),
            )
        if days > SUSPENSION_DAYS:
            self.activity(
                customer,
                due + timedelta(days=SUSPENSION_DAYS),
                ActivityKind.EMAIL,
                "Suspension warning emailed to the billing contact and the account manager.",
                invoice=oldest,
            )
        if customer.id in self.suspended:
            when = self.suspended[customer.id]
            self.activity(
                customer,
                when.date(),
                ActivityKind.NOTE,
                "Subscriptions suspended for non-payment.",
                occurred_at=when,
            )
        if days > 90:
            if rng.random() < 0.5:
                agreed = due + timedelta(days=rng.randint(91, days)) if days > 91 else self.yesterday
                instalment = -(-sum(i.open_cents for i in overdue) // 3)
                self.activity(
                    customer,
                    agreed,
                    ActivityKind.PAYMENT_PLAN,
                    "Agreed a three-month payment plan.",
                    details={
                        "instalments": 3,
                        "instalment_amount": str(from_cents(instalment)),
                        "first_due": (agreed + timedelta(days=14)).isoformat(),
                    },
                )
            else:
                self.activity(
                    customer,
                    due + timedelta(days=90),
                    ActivityKind.NOTE,
                    "Reviewing for cancellation and referral to a collection agency.",
                )

    def resolved_disputes(self) -> None:
        """Half the pricing corrections settled a dispute the customer had raised."""
        by_id = {customer.id: customer for customer in self.customers}
        invoices = {invoice.id: invoice for invoice in self.invoices}
        for note in self.credit_notes:
            if note["reason"] != "pricing correction" or self.rng.random() < 0.5:
                continue
            customer, invoice = by_id[note["customer_id"]], invoices[note["invoice_id"]]
            opened = max(invoice.issue_date, note["issued_on"] - timedelta(days=self.rng.randint(1, 6)))
            self.activity(
                customer,
                opened,
                ActivityKind.DISPUTE_OPENED,
                f"Customer queries the price on invoice {invoice.number}.",
                invoice=invoice,
            )
            self.activity(
                customer,
                note["issued_on"],
                ActivityKind.DISPUTE_RESOLVED,
                f"Resolved with credit note {note['number']}.",
                invoice=invoice,
            )

    def ticket_times(
        self, status: TicketStatus, severity: Severity, escalated: bool
    ) -> tuple[datetime, datetime | None, datetime | None]:
        """Created, first response and resolution times that agree with the ticket's status."""
        rng = self.rng
        response = timedelta(
            minutes=rng.randint(*RESPONSE_MINUTES[severity.value]) * (3 if rng.random() < 0.1 else 1)
        )
        resolution = timedelta(
            minutes=rng.randint(*RESOLUTION_MINUTES[severity.value])
            * (3 if rng.random() < 0.1 else 1)
            * (3 if escalated else 1)
        )
        if status is TicketStatus.NEW:
            return self.horizon - timedelta(minutes=rng.randint(15, 600)), None, None
        if status in (TicketStatus.OPEN, TicketStatus.PENDING_CUSTOMER, TicketStatus.ESCALATED):
            age = rng.randint(1, 21) if rng.random() < 0.9 else rng.randint(22, 120)
            created = self.office_time(self.today - timedelta(days=age))
            return created, min(created + response, created + (self.horizon - created) / 2), None
        days = resolution.days + 1
        back = (
            rng.randint(days + 1, days + 6) if status is TicketStatus.RESOLVED else rng.randint(days + 8, 365)
        )
        created = self.office_time(self.today - timedelta(days=back))
        return created, created + min(response, resolution / 2), created + resolution

    def draw_tickets(self) -> None:
        rng = self.rng
        count = self.customer_count * 4
        disputes = [i for i in self.invoices if i.id in self.dispute_opened]
        by_onboarding = sorted(self.customers, key=lambda c: (c.row["created_at"], c.id))
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
                escalation = self.escalation_choice(category, status)
            created, responded, resolved = self.ticket_times(status, severity, escalation is not None)
            known = bisect.bisect_right(onboarded, created) or len(by_onboarding)
            customer = by_onboarding[rng.randrange(known)]
            ticket = self.ticket(customer, category, severity, status, created, responded, resolved)
            if escalation is not None and responded is not None:
                self.escalate(ticket, severity, *escalation)
        self.tickets.sort(key=lambda row: row["created_at"])
        for number, row in enumerate(self.tickets, start=1):
            row["id"] = number
            row["external_id"] = f"TCK-{number:06d}"
        self.escalations.sort(key=lambda row: row["submitted_at"])
        for number, row in enumerate(self.escalations, start=1):
            row["id"] = number
            row["ticket_id"] = row.pop("ticket")["id"]

    def escalation_choice(
        self, category: TicketCategory, status: TicketStatus
    ) -> tuple[EscalationStatus, SupportVehicle | None] | None:
        rng = self.rng
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

    def ticket(
        self,
        customer: _Customer,
        category: TicketCategory,
        severity: Severity,
        status: TicketStatus,
        created: datetime,
        responded: datetime | None,
        resolved: datetime | None,
    ) -> Row:
        rng = self.rng
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

    def dispute_ticket(self, invoice: _Invoice) -> None:
        opened = self.dispute_opened[invoice.id]
        created = min(self.office_time(opened), self.horizon - timedelta(hours=2))
        responded = created + min(timedelta(minutes=self.rng.randint(30, 300)), (self.horizon - created) / 2)
        status = self.rng.choice((TicketStatus.OPEN, TicketStatus.PENDING_CUSTOMER))
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

    def escalate(
        self, ticket: Row, severity: Severity, state: EscalationStatus, vehicle: SupportVehicle | None
    ) -> None:
        """A Microsoft case opened after the first response; its times follow its status and the ticket's."""
        rng = self.rng
        responded: datetime = ticket["first_response_at"]
        ends: datetime = ticket["resolved_at"] or self.horizon
        submitted = responded + min(timedelta(minutes=rng.randint(10, 240)), (ends - responded) / 3)
        resolved_at = None
        if state in (EscalationStatus.RESOLVED, EscalationStatus.CLOSED):
            resolved_at = submitted + (ends - submitted) * rng.randint(50, 95) / 100
            changed = resolved_at
            if state is EscalationStatus.CLOSED:
                changed = min(
                    resolved_at + timedelta(hours=rng.randint(1, 72)), self.horizon - timedelta(minutes=1)
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
        self.escalations.append(
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

    def policy(self) -> Row:
        return {
            "id": 1,
            "name": "Standard collections policy",
            "minimum_overdue_cents": MINIMUM_OVERDUE_CENTS,
            "grace_days_before_suspension": GRACE_DAYS,
            "disputes_stop_clock": True,
            "statement_intro": STATEMENT_INTRO,
            "updated_at": self.horizon - timedelta(days=30, hours=9),
            "updated_by": BILLING,
        }

    def policy_stages(self) -> list[Row]:
        return [
            {
                "id": number,
                "policy_id": 1,
                "name": name,
                "days_past_due": days,
                "action": action.value,
                "message_template": template,
            }
            for number, (days, action, name, template) in enumerate(POLICY_STAGES, start=1)
        ]

    def support_offering(self) -> Row:
        return {
            "id": 1,
            "name": "Partner support for Microsoft cloud customers",
            "time_zone": OFFICE.key,
            "business_hours": {
                **{day: ["08:00", "18:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
                "sat": None,
                "sun": None,
            },
            "contact_methods": [
                {"method": "phone", "value": "+1 800 555 0142", "availability": "Mon-Fri 08:00-18:00 ET"},
                {"method": "email", "value": "support@billingdesk.example", "availability": "Any time"},
                {
                    "method": "portal",
                    "value": "https://support.billingdesk.example",
                    "availability": "Any time",
                },
            ],
            "pricing": (
                "Billing, licensing and subscription requests are included with every subscription. Technical "
                "support in business hours is included; critical incidents outside business hours are billed at "
                "USD 150.00 per hour. Escalations to Microsoft carry no extra charge."
            ),
            "entitlements": [
                SupportVehicle.ADVANCED.value,
                SupportVehicle.PREMIER.value,
                SupportVehicle.SIGNATURE.value,
            ],
            "updated_at": self.horizon - timedelta(days=45, hours=10),
            "updated_by": BILLING,
        }

    def support_targets(self) -> list[Row]:
        return [
            {
                "id": number,
                "offering_id": 1,
                "severity": severity.value,
                "first_response_hours": first,
                "resolution_hours": resolve,
            }
            for number, (severity, (first, resolve)) in enumerate(SUPPORT_TARGETS.items(), start=1)
        ]

    def holidays(self) -> list[Row]:
        """US holidays from a year ago to a year ahead, so the SLA clock skips them over the ticket history."""
        window = (self.today - timedelta(days=365), self.today + timedelta(days=365))
        days = [
            (day, name)
            for year in range(self.today.year - 1, self.today.year + 2)
            for day, name in _us_holidays(year)
            if window[0] <= day <= window[1]
        ]
        return [
            {"id": n, "offering_id": 1, "day": day, "name": name} for n, (day, name) in enumerate(days, 1)
        ]

    def microsoft_invoices(self) -> list[Row]:
        """The partner's monthly bill from Microsoft, about 80-85% of what it billed customers that month."""
        rng = self.rng
        billed: dict[int, dict[str, int]] = {}
        for invoice in self.invoices:
            totals = billed.setdefault(invoice.month, {})
            totals[invoice.customer.currency] = (
                totals.get(invoice.customer.currency, 0) + invoice.amount_cents
            )
        usd_percent = {market.currency: market.usd_percent for market in MARKETS.values()}
        rows: list[Row] = []
        numbers: set[str] = set()
        for month in range(MONTHS - 1):
            start = self.month(month)
            usd = sum(
                cents * usd_percent[currency] // 100 for currency, cents in billed.get(month, {}).items()
            )
            number = ""
            while not number or number in numbers:
                number = f"G{rng.randint(100_000_000, 999_999_999)}"
            numbers.add(number)
            due = start + timedelta(days=60)
            period_end = self.month(month + 1) - timedelta(days=1)
            paid = max(period_end + timedelta(days=10), due - timedelta(days=rng.randint(0, 5)))
            rows.append(
                {
                    "id": month + 1,
                    "number": number,
                    "period_start": start,
                    "period_end": period_end,
                    "amount_cents": usd * rng.randint(800, 850) // 1000,
                    "currency": "USD",
                    "due_date": due,
                    "paid_on": paid if due < self.today and paid < self.today else None,
                }
            )
        return rows


def _holds_customers(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(Customer)) != 0


def database_is_empty() -> bool:
    """Demo data goes only into a database without customers."""
    with transaction() as session:
        return not _holds_customers(session)


def _reset_sequences(session: Session, tables: list[str]) -> None:
    """Rows were inserted with explicit ids; PostgreSQL's sequences must move past them for later inserts."""
    for table in tables:
        session.execute(
            text(f"SELECT setval(pg_get_serial_sequence(:table, 'id'), (SELECT MAX(id) FROM {table}))"),
            {"table": table},
        )


def seed_demo(
    *,
    customers: int = 300,
    seed: int = 42,
    today: date | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Fill an empty database with demo data; the same seed and day always give the same rows."""
    if customers < 1:
        raise InvalidAction("Ask for at least one demo customer.")
    report = progress or (lambda _message: None)
    with transaction() as session:
        if _holds_customers(session):
            raise InvalidAction(
                "The database already holds customers; demo data goes only into an empty database."
            )
        report(f"Drawing {customers} customers and two years of billing")
        tables = _Demo(customers=customers, seed=seed, today=today or clock.today()).tables()
        for model, rows in tables.items():
            report(f"Writing {model.__tablename__} ({len(rows)})")
            if rows:
                session.execute(insert(model), rows)
        postgres = session.get_bind().dialect.name == "postgresql"
        if postgres:
            _reset_sequences(session, [model.__tablename__ for model, rows in tables.items() if rows])
    if postgres:
        with get_engine().connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()
    return {model.__tablename__: len(rows) for model, rows in tables.items()}
