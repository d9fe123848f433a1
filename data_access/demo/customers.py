"""Demo customers and their subscriptions, and how each one pays: on time, late, disputing, exempt, or stuck
on purpose in one overdue range of the collections policy."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from data_access.demo.accounts import DemoCustomer, DemoSubscription
from data_access.demo.catalog import (
    ADD_ONS,
    ADDITIONAL_STATUSES,
    AZURE_USD_CENTS_BY_SIZE,
    COMPANY_TRADES,
    COMPANY_WORDS,
    FIRST_NAMES,
    LAST_NAMES,
    MARKETS,
    SEATS_BY_SIZE,
    SKUS,
    SUITES_BY_SIZE,
    Sku,
    local_price,
)
from data_access.demo.draw import MONTHS, Draw, Row, add_months
from data_access.demo.policy import OVERDUE_RANGES
from data_access.enums import BillingCycle, SubscriptionStatus

SALES_AGENTS = ("sales", "alex.morgan", "jamie.chen", "priya.shah")
TARGET_MINIMUM_INVOICE_CENTS = 10_000


def draw_customers(draw: Draw, count: int) -> list[DemoCustomer]:
    taken: set[str] = set()
    customers = [_customer(draw, number, taken) for number in range(1, count + 1)]
    subscriptions = (subscription for customer in customers for subscription in customer.subscriptions)
    for number, subscription in enumerate(subscriptions, start=1):
        subscription.row["id"] = number
    return customers


def _customer(draw: Draw, number: int, taken: set[str]) -> DemoCustomer:
    rng = draw.rng
    country = rng.choices(list(MARKETS), [m.weight for m in MARKETS.values()])[0]
    market = MARKETS[country]
    words = _company_words(draw, taken)
    domain = f"{words.lower().replace(' ', '')}.{market.domain_suffix}"
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    email = rng.choice((f"{first}.{last}@{domain}".lower(), f"accounts@{domain}", f"ap@{domain}"))
    start = 0 if rng.random() < 0.75 else rng.randint(1, MONTHS - 2)
    onboarding_days = rng.randint(30, 1_500) if start == 0 else rng.randint(5, 40)
    size = rng.choices(list(SEATS_BY_SIZE), [w for _, _, w in SEATS_BY_SIZE.values()])[0]
    low, high, _weight = SEATS_BY_SIZE[size]
    customer = DemoCustomer(
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
            "created_at": draw.office_time(draw.month(start) - timedelta(days=onboarding_days)),
        },
        market=market,
        start=start,
        size=size,
        seats=rng.randint(low, high),
    )
    _draw_subscriptions(draw, customer)
    peak = max(customer.monthly_charge(m) for m in range(MONTHS))
    customer.row["credit_limit_cents"] = max(100_000, -(-peak * 3 // 100_000) * 100_000)
    return customer


def _company_words(draw: Draw, taken: set[str]) -> str:
    for _attempt in range(40):
        words = f"{draw.rng.choice(COMPANY_WORDS)} {draw.rng.choice(COMPANY_TRADES)}"
        if words not in taken:
            break
    else:
        words = f"{words} {len(taken) + 1}"
    taken.add(words)
    return words


def _draw_subscriptions(draw: Draw, customer: DemoCustomer) -> None:
    rng = draw.rng
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
        customer.subscriptions.append(_subscription(draw, customer, SKUS[name], status, first=position == 0))


def _quantity(draw: Draw, customer: DemoCustomer, sku: Sku, *, first: bool) -> int:
    seats = customer.seats
    if sku.sizing == "usage":
        return 1
    if sku.sizing == "rooms":
        return draw.rng.randint(1, max(1, min(20, seats // 15)))
    if sku.sizing == "suite" and first:
        return seats
    share = {"suite": (5, 30), "addon": (10, 60), "team": (5, 25)}[sku.sizing]
    return max(5, seats * draw.rng.randint(*share) // 100)


def _subscription(
    draw: Draw, customer: DemoCustomer, sku: Sku, status: SubscriptionStatus, *, first: bool
) -> DemoSubscription:
    rng = draw.rng
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
    quantity = _quantity(draw, customer, sku, first=first)
    if sku.sizing == "usage":
        low, high = AZURE_USD_CENTS_BY_SIZE[customer.size]
        base = local_price(rng.randint(low, high), customer.market)
        charges = [base * rng.randint(85, 115) // 100 if start <= m < end else 0 for m in range(MONTHS)]
        unit_price = charges[min(end, MONTHS) - 1] if end > start else base
        term_end = None
    else:
        unit_price = local_price(sku.usd_cents, customer.market)
        charges = [quantity * unit_price if start <= m < end else 0 for m in range(MONTHS)]
        term_end = _term_end(draw, start, end)
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
    return DemoSubscription(row=row, charges=charges)


def _term_end(draw: Draw, start: int, end: int) -> date:
    """Annual terms: the anniversary after today for live subscriptions, the month billing ended otherwise."""
    if end < MONTHS:
        return draw.month(end) - timedelta(days=1)
    renewal = draw.month(start)
    while renewal <= draw.today:
        renewal = add_months(renewal, 12)
    return renewal - timedelta(days=1)


def place_overdue_customers(draw: Draw, customers: list[DemoCustomer]) -> None:
    """Customers whose oldest unpaid invoice sits, on purpose, in each overdue range of the policy."""
    rng = draw.rng
    candidates = [c for c in customers if c.start == 0]
    rng.shuffle(candidates)
    per_range = max(1, min(max(3, len(customers) // 30), len(candidates) // 6))
    pool = iter(candidates)
    for low, high in OVERDUE_RANGES:
        placed = 0
        for customer in pool:
            found = _first_unpaid_invoice(draw, customer, low, high)
            if found is not None:
                customer.row["payment_terms_days"], customer.stop = found
                customer.target = (low, high)
                placed += 1
            if placed == per_range:
                break
    others = [c for c in customers if c.target is None]
    rng.shuffle(others)
    exempt_count = max(1, len(customers) // 50)
    dispute_count = max(2, len(customers) // 25)
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


def _first_unpaid_invoice(draw: Draw, customer: DemoCustomer, low: int, high: int) -> tuple[int, int] | None:
    """Payment terms and month whose invoice is `low`..`high` days past due today, preferring usual terms."""
    usual = [customer.row["payment_terms_days"], *draw.rng.sample((30, 14, 45, 60), 4)]
    for terms in [*usual, *range(7, 91)]:
        months = [
            m
            for m in range(customer.start, MONTHS)
            if low <= (draw.today - draw.month(m)).days - terms <= high
            and customer.monthly_charge(m) >= TARGET_MINIMUM_INVOICE_CENTS
        ]
        if months:
            return terms, draw.rng.choice(months)
    return None
