"""A customer's status equals what plain Python makes of the rows the test wrote, at several as-of dates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from data_access.actions.credit_notes import issue_credit_note
from data_access.actions.payments import record_payment
from data_access.errors import NotFound
from data_access.permissions import Actor, PermissionDenied
from data_access.queries.customers import (
    CollectionsContact,
    CurrencyBalance,
    OpenEscalation,
    OpenTicket,
    customer_status,
    search_customers,
    year_before,
)
from tests.support import factories
from tests.support.actors import BILLING, SALES, USERMGR
from tests.support.factories import at

TODAY = date(2026, 11, 24)
AS_OF_DATES = [date(2025, 12, 1), date(2026, 8, 10), date(2026, 9, 1), date(2026, 10, 31), TODAY]


@dataclass
class Book:
    """The test's own record of invoices and the money against them, kept apart from the database."""

    invoices: dict[str, dict[str, object]] = field(default_factory=dict)
    moves: list[tuple[str, date, int, str]] = field(default_factory=list)
    unapplied: list[tuple[str, str, date, int]] = field(default_factory=list)

    def invoice(self, customer: str, number: str, issued: date, cents: int, *, terms: int = 30,
                currency: str = "USD") -> None:  # fmt: skip
        factories.invoice(customer, number, issued=issued, cents=cents, terms=terms, currency=currency)
        self.invoices[number] = {"customer": customer, "issued": issued, "due": issued + timedelta(days=terms),
                                 "cents": cents, "currency": currency}  # fmt: skip

    def pay(self, number: str, on: date, cents: int, *, extra: int = 0) -> None:
        """Pay an invoice; `extra` cents beyond it stay on the account as unapplied credit."""
        customer = str(self.invoices[number]["customer"])
        record_payment(BILLING, customer_id=customer, amount=Decimal(cents + extra) / 100, received_on=on,
                       invoice_number=number, reference=f"PAY-{number}-{on}", today=TODAY)  # fmt: skip
        self.moves.append((number, on, cents, "payment"))
        if extra:
            self.unapplied.append((customer, str(self.invoices[number]["currency"]), on, extra))

    def credit(self, number: str, on: date, cents: int) -> None:
        issue_credit_note(BILLING, invoice_number=number, number=f"CN-{number}-{on}", amount=Decimal(cents) / 100,
                          issued_on=on, reason="goodwill")  # fmt: skip
        self.moves.append((number, on, cents, "credit"))

    def open_cents(self, number: str, as_of: date) -> int:
        inv = self.invoices[number]
        if inv["issued"] > as_of:  # type: ignore[operator]
            return 0
        return int(inv["cents"]) - sum(c for n, on, c, _ in self.moves if n == number and on <= as_of)  # type: ignore[call-overload]

    def balances(self, customer: str, as_of: date) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
        found: dict[str, list[int]] = {}
        for number, inv in self.invoices.items():
            if inv["customer"] == customer and (cents := self.open_cents(number, as_of)):
                totals = found.setdefault(str(inv["currency"]), [0, 0, 0])
                totals[0] += cents
                totals[1] += cents if inv["due"] < as_of else 0  # type: ignore[operator]
        for who, currency, on, cents in self.unapplied:
            if who == customer and on <= as_of:
                found.setdefault(currency, [0, 0, 0])[2] += cents
        return {c: (money(t[0]), money(t[1]), money(t[2])) for c, t in found.items()}

    def days_overdue(self, customer: str, as_of: date) -> int:
        due = [inv["due"] for n, inv in self.invoices.items()
               if inv["customer"] == customer and inv["due"] < as_of and self.open_cents(n, as_of)]  # type: ignore[operator]  # fmt: skip
        return (as_of - min(due)).days if due else 0  # type: ignore[type-var,operator]

    def lateness(self, customer: str, as_of: date) -> list[int]:
        late = []
        for number, inv in self.invoices.items():
            moves = [(on, kind) for n, on, _, kind in self.moves if n == number and on <= as_of]
            if inv["customer"] != customer or self.open_cents(number, as_of) or not moves:
                continue
            settled = max(on for on, _ in moves)
            if any(kind == "payment" for _, kind in moves) and year_before(as_of) < settled <= as_of:
                late.append(max((settled - inv["due"]).days, 0))  # type: ignore[operator]
        return late

    def running(self, customer: str, as_of: date) -> list[int]:
        """Days late so far of the customer's invoices open and past due at as_of."""
        return [(as_of - inv["due"]).days for n, inv in self.invoices.items()  # type: ignore[operator]
                if inv["customer"] == customer and inv["due"] < as_of and self.open_cents(n, as_of)]  # type: ignore[operator]  # fmt: skip


def money(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def add_customer(external_id: str, name: str, *, domain: str, tenant: str, currency: str = "USD") -> None:
    factories.customer(external_id, name=name, currency=currency, domain=domain, tenant_id=tenant,
                       billing_contact_name="Pat Payables", billing_contact_email=f"ap@{domain}",
                       payment_terms_days=30, credit_limit_cents=5_000_000)  # fmt: skip


def subscription(customer: str, external_id: str, status: str, *, product: str = "Microsoft 365") -> None:
    factories.subscription(customer, external_id, product, sku=f"{product} E3", status=status,
                           term_end=date(2027, 1, 31),
                           suspension_reason="Non-payment" if status == "Suspended" else None)  # fmt: skip


def ticket(customer: str, external_id: str, status: str, created: date) -> str:
    return factories.ticket(customer, external_id, status=status, channel="email", assignee="helpdesk",
                            created_at=at(created))  # fmt: skip


def escalation(ticket_id: str, case: str, status: str, submitted: date) -> None:
    factories.escalation(ticket_id, case, status=status, submitted_at=at(submitted),
                         status_changed_at=at(submitted, 15))  # fmt: skip


def activity(customer: str, kind: str, when: datetime, notes: str, **extra: object) -> None:
    factories.activity(customer, kind, occurred_at=when, notes=notes, **extra)


def write_book() -> Book:
    book = Book()
    add_customer("C-GOOD", "Good Neighbours Ltd", domain="goodneighbours.example", tenant="6f1c-aaaa-good")
    add_customer("C-LATE", "Late Payers GmbH", domain="latepayers.example", tenant="9d2e-bbbb-late")
    add_customer("C-SUSP", "Suspended Systems Inc.", domain="suspended.example", tenant="1a3b-cccc-susp")
    # C-GOOD: one invoice paid early, one five days late (with 123.45 too much: unapplied credit), one current.
    book.invoice("C-GOOD", "G-1", date(2026, 9, 1), 100_000)
    book.pay("G-1", date(2026, 9, 25), 100_000)
    book.invoice("C-GOOD", "G-2", date(2026, 10, 1), 50_000)
    book.pay("G-2", date(2026, 11, 5), 50_000, extra=12_345)
    book.invoice("C-GOOD", "G-3", date(2026, 11, 10), 70_000)
    # C-LATE: in USD and EUR; part paid and part credited, paid 45 days late, settled over a year ago, and
    # cancelled by a credit note alone (neither of the last two counts towards days late).
    book.invoice("C-LATE", "L-1", date(2026, 7, 1), 200_000)
    book.pay("L-1", date(2026, 8, 15), 50_000)
    book.credit("L-1", date(2026, 9, 1), 30_000)
    book.invoice("C-LATE", "L-2", date(2026, 8, 1), 80_000, currency="EUR")
    book.pay("L-2", date(2026, 10, 15), 80_000, extra=2_000)
    book.invoice("C-LATE", "L-3", date(2026, 10, 15), 40_000)
    book.invoice("C-LATE", "L-4", date(2025, 6, 1), 60_000)
    book.pay("L-4", date(2025, 11, 1), 60_000)
    book.invoice("C-LATE", "L-5", date(2026, 3, 1), 10_000)
    book.credit("L-5", date(2026, 4, 10), 10_000)
    book.invoice("C-LATE", "L-6", date(2026, 10, 1), 25_000, currency="EUR", terms=14)
    book.pay("L-6", date(2026, 10, 10), 5_000)
    # C-SUSP: nothing overdue, but a subscription is suspended.
    book.invoice("C-SUSP", "S-1", date(2026, 11, 1), 30_000)
    subscription("C-SUSP", "SUB-S1", "Suspended")
    subscription("C-SUSP", "SUB-S2", "Active", product="Azure")
    subscription("C-LATE", "SUB-L1", "Active")
    subscription("C-LATE", "SUB-L2", "Expired", product="Dynamics 365")
    return book


@pytest.mark.parametrize("as_of", AS_OF_DATES)
@pytest.mark.parametrize("customer", ["C-GOOD", "C-LATE", "C-SUSP"])
def test_balances_standing_and_days_late_equal_the_book(database: str, as_of: date, customer: str) -> None:
    book = write_book()
    status = customer_status(SALES, customer_id=customer, as_of=as_of)

    expected = book.balances(customer, as_of)
    currencies = ["USD", *sorted(set(expected) - {"USD"})]
    zero = (Decimal("0.00"),) * 3
    assert status.balances == tuple(CurrencyBalance(c, *expected.get(c, zero)) for c in currencies)
    assert all(isinstance(b.open, Decimal) for b in status.balances)

    days = book.days_overdue(customer, as_of)
    assert status.days_overdue == days
    assert status.standing == (
        "suspended" if customer == "C-SUSP" else "overdue" if days else "good standing"
    )

    late, running = book.lateness(customer, as_of), book.running(customer, as_of)
    assert (status.invoices_paid_last_12_months, status.invoices_open_overdue) == (len(late), len(running))
    counted = late + running
    expected_average = (
        (Decimal(sum(counted)) / len(counted)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        if counted
        else None
    )
    assert status.average_days_late == expected_average


def test_standing_and_figures_by_hand(database: str) -> None:
    write_book()
    good = customer_status(SALES, customer_id="C-GOOD", as_of=TODAY)
    assert (good.standing, good.standing_label, good.days_overdue) == ("good standing", "Good standing", 0)
    assert good.balances == (CurrencyBalance("USD", Decimal("700.00"), Decimal("0.00"), Decimal("123.45")),)
    assert (good.average_days_late, good.invoices_paid_last_12_months) == (Decimal("2.5"), 2)

    late = customer_status(SALES, customer_id="C-LATE", as_of=TODAY)
    # L-1 has been open since it fell due on 31 Jul 2026: 116 days before 24 Nov 2026.
    assert (late.standing, late.standing_label) == ("overdue", "Overdue 116 days")
    assert late.balances == (
        CurrencyBalance("USD", Decimal("1600.00"), Decimal("1600.00"), Decimal("0.00")),
        CurrencyBalance("EUR", Decimal("200.00"), Decimal("200.00"), Decimal("20.00")),
    )
    # Settled: L-2 (45 days late) only: L-4 was settled over a year ago, L-5 by a credit note alone. Still open
    # and past due, with their days late so far: L-1 116, L-3 10, L-6 40. (45 + 116 + 10 + 40) / 4 = 52.75.
    assert (late.average_days_late, late.invoices_paid_last_12_months, late.invoices_open_overdue) == (
        Decimal("52.8"), 1, 3
    )  # fmt: skip

    suspended = customer_status(SALES, customer_id="C-SUSP", as_of=TODAY)
    assert (suspended.standing, suspended.standing_label, suspended.days_overdue) == (
        "suspended",
        "Suspended",
        0,
    )
    assert [s.subscription_id for s in suspended.subscriptions] == ["SUB-S1", "SUB-S2"]
    assert suspended.subscriptions[0].suspension_reason == "Non-payment"


def test_one_day_overdue_reads_in_the_singular(database: str) -> None:
    factories.customer("C-1")
    factories.invoice("C-1", "I-1", issued=date(2026, 10, 24), cents=1_000)
    assert customer_status(SALES, customer_id="C-1", as_of=date(2026, 11, 23)).standing == "good standing"
    status = customer_status(SALES, customer_id="C-1", as_of=date(2026, 11, 24))
    assert (status.standing, status.standing_label) == ("overdue", "Overdue 1 day")


def test_identity_tickets_escalations_and_last_contact(database: str) -> None:
    write_book()
    open_ticket = ticket("C-LATE", "T-2", "pending customer", date(2026, 11, 20))
    ticket("C-LATE", "T-1", "open", date(2026, 11, 2))
    ticket("C-LATE", "T-0", "resolved", date(2026, 10, 2))
    closed_ticket = ticket("C-LATE", "T-9", "closed", date(2026, 9, 2))
    ticket("C-GOOD", "T-G", "new", date(2026, 11, 21))
    escalation(open_ticket, "MS-200", "in progress", date(2026, 11, 21))
    escalation(open_ticket, "MS-100", "resolved", date(2026, 11, 20))
    escalation(closed_ticket, "MS-050", "closed", date(2026, 9, 3))
    activity("C-LATE", "reminder_sent", at(date(2026, 11, 1)), "First reminder")
    activity("C-LATE", "promise_to_pay", at(date(2026, 11, 18), 16), "Will pay L-1", promised_amount_cents=120_000,
             promised_for=date(2026, 11, 30))  # fmt: skip
    activity("C-LATE", "call", at(date(2026, 11, 18), 9), "Called AP")
    activity("C-GOOD", "note", at(date(2026, 11, 23)), "Another customer")

    status = customer_status(SALES, customer_id="C-LATE", as_of=TODAY)
    assert (status.customer_id, status.name, status.domain, status.tenant_id) == (
        "C-LATE", "Late Payers GmbH", "latepayers.example", "9d2e-bbbb-late"
    )  # fmt: skip
    assert (status.currency, status.country, status.account_manager, status.exempt_from_collections) == (
        "USD", "US", "sales", False
    )  # fmt: skip
    assert (status.billing_contact_name, status.billing_contact_email) == (
        "Pat Payables",
        "ap@latepayers.example",
    )
    assert (status.payment_terms_days, status.credit_limit) == (30, Decimal("50000.00"))
    assert [(s.subscription_id, s.status) for s in status.subscriptions] == [
        ("SUB-L2", "Expired"),
        ("SUB-L1", "Active"),
    ]
    assert status.open_tickets == (
        OpenTicket("T-2", "Question T-2", "billing question", "moderate", "pending customer", "helpdesk",
                   at(date(2026, 11, 20))),
        OpenTicket("T-1", "Question T-1", "billing question", "moderate", "open", "helpdesk", at(date(2026, 11, 2))),
    )  # fmt: skip
    assert status.open_escalations == (
        OpenEscalation("MS-200", "T-2", "technical", "Advanced Support for Partners", "moderate", "in progress",
                       at(date(2026, 11, 21)), at(date(2026, 11, 21), 15)),
    )  # fmt: skip
    assert status.last_contact == CollectionsContact(
        "promise_to_pay",
        at(date(2026, 11, 18), 16),
        "billing",
        "Will pay L-1",
        Decimal("1200.00"),
        date(2026, 11, 30),
    )
    assert status.time_zone == "UTC"

    quiet = customer_status(SALES, customer_id="C-SUSP", as_of=TODAY)
    assert (quiet.open_tickets, quiet.open_escalations, quiet.last_contact) == ((), (), None)


def test_times_are_shown_in_the_support_offerings_zone(database: str) -> None:
    factories.customer("C-1")
    factories.support_offering(name="Standard", time_zone="Europe/Berlin")
    assert customer_status(SALES, customer_id="C-1", as_of=TODAY).time_zone == "Europe/Berlin"


def test_a_customer_with_nothing_yet_is_in_good_standing_in_its_own_currency(database: str) -> None:
    factories.customer("C-NEW", currency="GBP")
    status = customer_status(SALES, customer_id="C-NEW", as_of=TODAY)
    assert status.balances == (CurrencyBalance("GBP", Decimal("0.00"), Decimal("0.00"), Decimal("0.00")),)
    assert (status.standing, status.average_days_late, status.invoices_paid_last_12_months) == (
        "good standing", None, 0
    )  # fmt: skip
    assert status.subscriptions == ()


def test_an_unknown_customer_is_a_sentence(database: str) -> None:
    with pytest.raises(NotFound, match="no customer with id 'C-NONE'"):
        customer_status(SALES, customer_id="C-NONE", as_of=TODAY)


def found_ids(text: str, limit: int = 50) -> list[str]:
    return list(search_customers(SALES, text, limit=limit).customer_id)


def test_search_by_name_domain_tenant_and_id_in_any_case(database: str) -> None:
    write_book()
    add_customer("C-100", "Good_Food 100% Co", domain="goodfood.example", tenant="77aa-dddd-food")
    assert found_ids("late payers") == ["C-LATE"]
    assert found_ids("SUSPENDED.EXAMPLE") == ["C-SUSP"]
    assert found_ids("9D2E-BBBB") == ["C-LATE"]
    assert found_ids("c-good") == ["C-GOOD"]
    assert sorted(found_ids("  good  ")) == ["C-100", "C-GOOD"]
    # LIKE wildcards in the text are matched literally.
    assert found_ids("100%") == ["C-100"]
    assert found_ids("d_f") == ["C-100"]
    assert found_ids("%") == ["C-100"]
    assert found_ids("nobody at all") == []
    table = search_customers(SALES, "latepayers")
    assert table.to_dict(orient="records") == [
        {"customer_id": "C-LATE", "name": "Late Payers GmbH", "domain": "latepayers.example",
         "tenant_id": "9d2e-bbbb-late", "country": "US", "currency": "USD", "account_manager": "sales"}
    ]  # fmt: skip


def test_an_exact_id_domain_or_tenant_comes_first_and_the_limit_holds(database: str) -> None:
    for number in range(1, 13):
        factories.customer(f"C-{number}", name=f"Alpha {number:02d}")
    assert found_ids("c-1")[0] == "C-1"
    assert found_ids("c-1") == ["C-1", "C-10", "C-11", "C-12"]
    assert found_ids("", limit=3) == ["C-1", "C-2", "C-3"]
    assert found_ids("alpha", limit=5) == ["C-1", "C-2", "C-3", "C-4", "C-5"]
    assert search_customers(SALES, "").shape == (12, 7)


def test_nothing_imported_means_no_customers(database: str) -> None:
    table = search_customers(SALES, "")
    assert table.empty and list(table.columns) == [
        "customer_id", "name", "domain", "tenant_id", "country", "currency", "account_manager"
    ]  # fmt: skip


@pytest.mark.parametrize("role", ["Global admin", "Helpdesk agent", "Billing admin", "Sales agent"])
def test_every_role_but_user_management_may_read_a_customer(database: str, role: str) -> None:
    factories.customer("C-1")
    actor = Actor.of("someone", [role])
    assert list(search_customers(actor, "C-1").customer_id) == ["C-1"]
    assert customer_status(actor, customer_id="C-1", as_of=TODAY).customer_id == "C-1"


def test_a_user_management_admin_is_refused(database: str) -> None:
    factories.customer("C-1")
    actor = USERMGR
    with pytest.raises(PermissionDenied, match=r"customers\.view"):
        search_customers(actor, "C-1")
    with pytest.raises(PermissionDenied, match=r"customers\.view"):
        customer_status(actor, customer_id="C-1", as_of=TODAY)


def test_a_year_before_a_leap_day_is_the_28th() -> None:
    assert year_before(date(2028, 2, 29)) == date(2027, 2, 28)
    assert year_before(TODAY) == date(2025, 11, 24)
