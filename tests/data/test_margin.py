"""Margin, leakage and unmatched lines: Partner Center files written in Microsoft's own layout and imported as a user
would, customer invoices made through the app, and every figure worked out again here, in plain Decimal arithmetic,
from the rows written to the files (never through data_access.queries.margin). On SQLite and PostgreSQL.

The book: A (USD) holds SA1 (10 seats), SA2 (suspended 2026-10-15 13:00 UTC) and SA3 (Azure), with a refund, a
line on a subscription we do not have, seats above ours and a voided invoice. B is billed in EUR and USD (usage)
and invoiced in both. C is billed and invoiced in GBP, which has no rate, and invoiced in USD too. D has invoices
and no tenant. E has a tenant and nothing else. A stranger's tenant is billed too.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from data_access.csv_import import import_csv
from data_access.errors import InvalidAction
from data_access.permissions import PermissionDenied
from data_access.queries import margin
from tests.support import factories
from tests.support.actors import BILLING, HELPDESK, SALES
from tests.support.margin_book import (
    CENT,
    CUSTOMER_OF,
    END,
    INVOICE_LINES,
    INVOICES,
    RATES,
    START,
    STRANGER,
    SUBSCRIPTIONS,
    TENANTS,
    USAGE_LINES,
    build_customers_and_invoices,
    write_book_files,
)


@pytest.fixture
def book(database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("BILLING_DESK_REPORTING_CURRENCY", raising=False)
    build_customers_and_invoices()
    for kind, path in write_book_files(tmp_path).items():
        report = import_csv(BILLING, kind, path)
        assert report.ok, report.errors
    return database


# The independent computation: from the rows above, in plain Decimal arithmetic.


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def month_end(first: date) -> date:
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return following - timedelta(days=1)


def rate_day(first: date) -> date:
    return min(month_end(first), END)


def rate(currency: str, day: date) -> Decimal | None:
    if currency == "USD":
        return Decimal(1)
    known = [
        (date.fromisoformat(d), Decimal(r))
        for d, c, r in RATES
        if c == currency and date.fromisoformat(d) <= day
    ]
    return max(known)[1] if known else None


def charges() -> list[dict[str, Any]]:
    """Every line written, as (tenant, subscription, charge date, quantity, cost, currency, source, kind)."""
    lines = [
        {"tenant": t, "number": n, "sub": s, "kind": k, "day": date.fromisoformat(d), "qty": Decimal(q),
         "cost": Decimal(c), "tax": Decimal(x), "currency": cur, "source": "invoice"}
        for t, n, s, k, d, q, c, x, cur in INVOICE_LINES
    ] + [
        {"tenant": t, "number": n, "sub": s, "kind": "new", "day": date.fromisoformat(d), "qty": Decimal(q),
         "cost": Decimal(c), "tax": Decimal(0), "currency": cur, "source": "usage"}
        for t, n, s, d, q, c, cur in USAGE_LINES
    ]  # fmt: skip
    return [line for line in lines if START <= line["day"] <= END]


def expected_cells() -> dict[tuple[str, date, str], list[Decimal]]:
    cells: dict[tuple[str, date, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for line in charges():
        if line["tenant"] in CUSTOMER_OF:
            cells[(CUSTOMER_OF[line["tenant"]], line["day"].replace(day=1), line["currency"])][0] += line[
                "cost"
            ]
    for _, customer, issued, amount, currency, voided in INVOICES:
        if not voided and START <= issued <= END:
            cells[(customer, issued.replace(day=1), currency)][1] += Decimal(amount) / 100
    return dict(sorted(cells.items()))


def expected_row(cells: list[tuple[date, str, Decimal, Decimal]]) -> dict[str, Any]:
    cost = cents(sum((c[2] for c in cells), Decimal(0)))
    revenue = cents(sum((c[3] for c in cells), Decimal(0)))
    rates = [rate(currency, rate_day(month)) for month, currency, _, _ in cells]
    converted: list[Decimal | None] = [None, None, None]
    if None not in rates:
        cost_c = cents(sum((c[2] * r for c, r in zip(cells, rates, strict=True)), Decimal(0)))  # type: ignore[operator]
        revenue_c = cents(sum((c[3] * r for c, r in zip(cells, rates, strict=True)), Decimal(0)))  # type: ignore[operator]
        converted = [cost_c, revenue_c, revenue_c - cost_c]
    return {
        "microsoft_cost": cost, "revenue": revenue, "margin": revenue - cost,
        "margin_pct": None if revenue == 0 else ((revenue - cost) / revenue * 100).quantize(CENT, ROUND_HALF_UP),
        "reporting_currency": "USD", "microsoft_cost_converted": converted[0], "revenue_converted": converted[1],
        "margin_converted": converted[2], "rate_date": max(rate_day(c[0]) for c in cells),
    }  # fmt: skip


def expected_margin(by: str | None = None, currency: str | None = None) -> list[dict[str, Any]]:
    groups: dict[tuple[str, ...], list[tuple[date, str, Decimal, Decimal]]] = defaultdict(list)
    for (customer, month, cur), (cost, revenue) in expected_cells().items():
        if currency and cur != currency:
            continue
        key = {"customer": (customer, cur), "month": (f"{month:%Y-%m}", cur)}.get(
            by or "", (customer, f"{month:%Y-%m}", cur)
        )
        groups[key].append((month, cur, cost, revenue))
    rows = []
    for key, cells in sorted(groups.items()):
        if by == "customer":
            head = {"customer_id": key[0], "customer_name": f"Customer {key[0]}", "currency": key[1]}
        elif by == "month":
            head = {"month": key[0], "currency": key[1]}
        else:
            head = {
                "customer_id": key[0],
                "customer_name": f"Customer {key[0]}",
                "month": key[1],
                "currency": key[2],
            }
        rows.append(head | expected_row(cells))
    return rows


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (None if v is None or v is pd.NA else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


@pytest.mark.parametrize("by", [None, "customer", "month"])
def test_margin_report_is_the_files_and_invoices_summed_by_hand(book: str, by: str | None) -> None:
    frame = margin.margin_report(BILLING, START, END, by=by)
    dropped = {"customer": ["month"], "month": ["customer_id", "customer_name"]}.get(by or "", [])
    assert list(frame.columns) == [c for c in margin.MARGIN_COLUMNS if c not in dropped]
    assert records(frame) == expected_margin(by)
    money = frame[["microsoft_cost", "revenue", "margin"]].to_numpy().ravel()
    assert all(type(value) is Decimal and value == value.quantize(CENT) for value in money)


def test_margin_report_worked_by_hand_for_the_cases_that_matter(book: str) -> None:
    rows = {
        (r["customer_id"], r["month"], r["currency"]): r
        for r in records(margin.margin_report(BILLING, START, END))
    }
    # A in September: 300.12345678 + 20.00 (a subscription we do not have still costs A), invoiced 400.00.
    a_sep = rows[("A", "2026-09", "USD")]
    assert (a_sep["microsoft_cost"], a_sep["revenue"], a_sep["margin"]) == (
        Decimal("320.12"), Decimal("400.00"), Decimal("79.88"),
    )  # fmt: skip
    assert a_sep["margin_pct"] == Decimal("19.97") and a_sep["margin_converted"] == Decimal("79.88")
    # A in October: 360.00000001 - 40.5 (refund) + 100.005 + 12.34567891 + 5.55 + 4.445 = 441.84567892; the
    # voided 5000.00 is no revenue.
    assert rows[("A", "2026-10", "USD")]["microsoft_cost"] == Decimal("441.85")
    assert rows[("A", "2026-10", "USD")]["revenue"] == Decimal("350.00")
    # A in November: the line of 25 November and the invoice of 25 November are after the end.
    assert rows[("A", "2026-11", "USD")]["microsoft_cost"] == Decimal("430.34")
    assert rows[("A", "2026-11", "USD")]["rate_date"] == END
    # B in September, EUR at 1.10 (rate of 31 August): cost 90.004 -> 99.0044 -> 99.00; revenue 110.00.
    b_sep = rows[("B", "2026-09", "EUR")]
    assert (b_sep["microsoft_cost"], b_sep["microsoft_cost_converted"], b_sep["revenue_converted"]) == (
        Decimal("90.00"), Decimal("99.00"), Decimal("110.00"),
    )  # fmt: skip
    assert b_sep["rate_date"] == date(2026, 9, 30)
    # B in October: a refund and no revenue; EUR at 1.12 (15 October): -90.004 * 1.12 = -100.80448.
    b_oct = rows[("B", "2026-10", "EUR")]
    assert b_oct["margin_pct"] is None and b_oct["microsoft_cost_converted"] == Decimal("-100.80")
    # C: GBP has no rate, so nothing is converted (and nothing guessed); its USD invoice converts at 1.
    c_gbp = rows[("C", "2026-10", "GBP")]
    assert c_gbp["microsoft_cost_converted"] is None and c_gbp["margin_converted"] is None
    assert rows[("C", "2026-10", "USD")]["revenue_converted"] == Decimal("10.00")
    # D has no tenant: revenue only. E has a tenant and nothing in range: no row.
    assert rows[("D", "2026-09", "USD")]["microsoft_cost"] == Decimal("0.00")
    assert not any(key[0] == "E" for key in rows)


def test_by_customer_converts_each_month_at_its_own_rate(book: str) -> None:
    rows = {
        (r["customer_id"], r["currency"]): r
        for r in records(margin.margin_report(BILLING, START, END, by="customer"))
    }
    # B's EUR: 90.004 * 1.10 + (-90.004) * 1.12 = -1.80008 -> -1.80; revenue 100.00 * 1.10 = 110.00.
    b_eur = rows[("B", "EUR")]
    assert b_eur["microsoft_cost"] == Decimal("0.00")
    assert b_eur["microsoft_cost_converted"] == Decimal("-1.80")
    assert b_eur["margin_converted"] == Decimal("111.80")
    assert rows[("C", "GBP")]["revenue_converted"] is None


def test_currency_keeps_one_currency(book: str) -> None:
    for by in (None, "customer", "month"):
        frame = margin.margin_report(BILLING, START, END, by=by, currency="eur")
        assert set(frame["currency"]) == {"EUR"}
        assert records(frame) == expected_margin(by, "EUR")


def expected_leakage() -> list[dict[str, Any]]:
    subscriptions = {sub: (customer, seats, status, at) for sub, customer, seats, status, at in SUBSCRIPTIONS}
    rows: list[dict[str, Any]] = []

    def leak(kind: str, customer: str, tenant: str, sub: str, month: date, cur: str, amount: Decimal | None,
             detail: str | None = None, name: str | None = None) -> dict[str, Any]:  # fmt: skip
        return {"kind": kind, "customer_id": customer, "customer_name": name or f"Customer {customer}",
                "customer_tenant": tenant, "subscription_id": sub, "month": f"{month:%Y-%m}", "currency": cur,
                "amount": amount, "detail": detail}  # fmt: skip

    for line in charges():
        if line["sub"] not in subscriptions:
            continue
        customer, seats, _status, _at = subscriptions[line["sub"]]
        month = line["day"].replace(day=1)
        if line["source"] == "invoice" and line["kind"].lower() == "cyclecharge" and line["qty"] > seats:
            amount = cents(line["cost"] * (line["qty"] - seats) / line["qty"])
            rows.append(leak("seats above ours", customer, line["tenant"], line["sub"], month, line["currency"],
                             amount, f"Microsoft bills {line['qty']} seats, we hold {seats}"))  # fmt: skip
    suspended: dict[tuple[str, date, str], Decimal] = defaultdict(Decimal)
    for line in charges():
        found = subscriptions.get(line["sub"])
        if found and found[2] == "Suspended" and line["day"] >= found[3].date():
            suspended[(line["sub"], line["day"].replace(day=1), line["currency"])] += line["cost"]
    for (sub, month, cur), cost in sorted(suspended.items()):
        customer = subscriptions[sub][0]
        rows.append(leak("billed while suspended", customer, TENANTS[customer], sub, month, cur, cents(cost)))
    strangers: dict[tuple[str, date, str], Decimal] = defaultdict(Decimal)
    for line in charges():
        if line["tenant"] not in CUSTOMER_OF:
            strangers[(line["tenant"], line["day"].replace(day=1), line["currency"])] += line["cost"]
    for (tenant, month, cur), cost in sorted(strangers.items()):
        rows.append(
            leak("not our customer", "", tenant, "", month, cur, cents(cost), name=f"Tenant {tenant[:4]}")
        )
    by_month: dict[tuple[str, date], dict[str, list[Decimal]]] = defaultdict(dict)
    for (customer, month, cur), figures in expected_cells().items():
        by_month[(customer, month)][cur] = figures
    for (customer, month), currencies in sorted(by_month.items()):
        if len(currencies) == 1:
            ((cur, (cost, revenue)),) = currencies.items()
            if revenue < cents(cost):
                rows.append(leak("billed below cost", customer, "", "", month, cur, cents(cost) - revenue))
            continue
        rates = {cur: rate(cur, rate_day(month)) for cur in currencies}
        if None in rates.values():
            rows.append(leak("billed below cost", customer, "", "", month, "USD", None))
            continue
        cost_c = cents(sum((f[0] * rates[c] for c, f in currencies.items()), Decimal(0)))  # type: ignore[operator]
        revenue_c = cents(sum((f[1] * rates[c] for c, f in currencies.items()), Decimal(0)))  # type: ignore[operator]
        if revenue_c < cost_c:
            rows.append(leak("billed below cost", customer, "", "", month, "USD", cost_c - revenue_c))
    return rows


def test_leakage_is_the_files_judged_by_hand(book: str) -> None:
    found = records(margin.leakage(BILLING, START, END))
    assert list(margin.leakage(BILLING, START, END).columns) == margin.LEAKAGE_COLUMNS
    expected = expected_leakage()
    key = ("kind", "customer_id", "customer_tenant", "subscription_id", "month", "currency")
    assert sorted(tuple(r[k] for k in key) for r in found) == sorted(
        tuple(r[k] for k in key) for r in expected
    )
    amounts = {tuple(r[k] for k in key): r["amount"] for r in found}
    assert amounts == {tuple(r[k] for k in key): r["amount"] for r in expected}
    details = {tuple(r[k] for k in key): r["detail"] for r in found}
    for row in expected:
        if row["detail"]:
            assert details[tuple(row[k] for k in key)] == row["detail"]
    # By hand: SA1 in October, 12 seats billed and 10 held: 360.00000001 * 2 / 12 = 60.00; in November (written
    # CYCLECHARGE) 330.33 * 1 / 11 = 30.03. SA2 from 15 October: 4.445 (October, usage) and 100.005 (November).
    assert amounts[("seats above ours", "A", TENANTS["A"], "SA1", "2026-10", "USD")] == Decimal("60.00")
    assert amounts[("seats above ours", "A", TENANTS["A"], "SA1", "2026-11", "USD")] == Decimal("30.03")
    assert amounts[("billed while suspended", "A", TENANTS["A"], "SA2", "2026-10", "USD")] == Decimal("4.45")
    assert amounts[("billed while suspended", "A", TENANTS["A"], "SA2", "2026-11", "USD")] == Decimal(
        "100.01"
    )
    assert amounts[("not our customer", "", STRANGER, "", "2026-09", "USD")] == Decimal("77.78")
    # A in October: 441.85 against 350.00. B in September: 99.0044 + 25.00 = 124.00 USD against 110.00 + 10.00.
    # B in November: USD usage 10.00 against 5.00. C in October: GBP has no rate, so it is not compared.
    assert amounts[("billed below cost", "A", "", "", "2026-10", "USD")] == Decimal("91.85")
    assert amounts[("billed below cost", "B", "", "", "2026-09", "USD")] == Decimal("4.00")
    assert amounts[("billed below cost", "B", "", "", "2026-11", "USD")] == Decimal("5.00")
    c_oct = ("billed below cost", "C", "", "", "2026-10", "USD")
    assert amounts[c_oct] is None and "GBP" in details[c_oct] and "no exchange rate" in details[c_oct]
    stranger = next(r for r in found if r["kind"] == "not our customer")
    assert stranger["customer_name"] == f"Tenant {STRANGER[:4]}"


def test_unmatched_lines_are_each_line_matching_nothing(book: str) -> None:
    frame = margin.unmatched_lines(BILLING, START, END)
    assert list(frame.columns) == margin.UNMATCHED_COLUMNS
    subscriptions = {sub for sub, *_ in SUBSCRIPTIONS}
    expected = sorted(
        ("no such customer" if line["tenant"] not in CUSTOMER_OF else "no such subscription", line["source"],
         line["number"] or None, line["tenant"], line["sub"], line["day"], line["currency"], line["cost"])
        for line in charges()
        if line["tenant"] not in CUSTOMER_OF or line["sub"] not in subscriptions
    )  # fmt: skip
    found = sorted(
        (r["problem"], r["source"], r["invoice_number"], r["customer_tenant"], r["subscription_ref"],
         r["charge_date"], r["currency"], r["cost"])
        for r in records(frame)
    )  # fmt: skip
    assert found == expected
    assert len(found) == 3  # SUB-NOPE on A; the stranger's invoice line and usage line
    names = dict(zip(frame["subscription_ref"], frame["customer_name"], strict=True))
    assert names["SUB-NOPE"] == "Customer A"


def test_customer_lines_and_subscription_costs(book: str) -> None:
    lines = margin.customer_margin_lines(BILLING, "A", START, END)
    assert list(lines.columns) == margin.LINE_COLUMNS
    mine = [line for line in charges() if line["tenant"] == TENANTS["A"]]
    assert sorted(lines["cost"]) == sorted(line["cost"] for line in mine)
    assert sum(lines["cost"], Decimal(0)) == Decimal("1192.30413570")
    costs = records(margin.customer_subscription_costs(BILLING, "A", START, END))
    assert list(margin.customer_subscription_costs(BILLING, "A", START, END).columns) == (
        margin.SUBSCRIPTION_COST_COLUMNS
    )
    by_sub = {row["subscription_id"]: row for row in costs}
    assert set(by_sub) == {"SA1", "SA2", "SA3"}
    assert by_sub["SA1"]["cost"] == cents(Decimal("300.12345678") + Decimal("360.00000001") - Decimal("40.5")
                                          + Decimal("330.33"))  # fmt: skip
    assert by_sub["SA1"]["max_billed_quantity"] == Decimal(12) and by_sub["SA1"]["quantity"] == 10
    assert by_sub["SA3"]["max_billed_quantity"] is None  # usage quantities are no seats
    e_costs = records(margin.customer_subscription_costs(BILLING, "E", START, END))
    assert e_costs == []
    assert margin.customer_margin_lines(BILLING, "E", START, END).empty
    with pytest.raises(InvalidAction):
        margin.customer_margin_lines(BILLING, "NOPE", START, END)


def test_suspension_costs_count_from_the_day_of_suspension(book: str) -> None:
    frame = margin.suspension_costs(BILLING)
    # SA2: 4.445 (15 October) + 100.005 (1 November); the 1 October and 14 October charges came before. The line
    # of 25 November is SA1's; nothing bounds suspension costs by a report range.
    assert records(frame) == [
        {
            "subscription_id": "SA2",
            "suspended_on": date(2026, 10, 15),
            "currency": "USD",
            "cost": Decimal("104.45"),
        }
    ]
    assert margin.suspension_costs(BILLING, ["SA1"]).empty
    assert margin.suspension_costs(BILLING, []).empty


def test_reconciliation_invoices_against_recorded_microsoft_invoices(book: str) -> None:
    factories.microsoft_invoice("G001", cents=43_090, due=date(2026, 10, 31))
    factories.microsoft_invoice("G002", cents=100, due=date(2026, 11, 30))
    rows = {(r["invoice_number"], r["currency"]): r for r in records(margin.reconciliation_invoices(BILLING))}
    billed: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0), Decimal(0)])
    for _t, number, _s, _k, _d, _q, subtotal, tax, cur in INVOICE_LINES:
        if number:
            billed[(number, cur)][0] += 1
            billed[(number, cur)][1] += Decimal(subtotal)
            billed[(number, cur)][2] += Decimal(tax)
    for _t, number, _s, _d, _q, cost, cur in USAGE_LINES:  # billed usage carries the invoice number too
        if number:
            billed[(number, cur)][0] += 1
            billed[(number, cur)][1] += Decimal(cost)
    assert set(rows) == set(billed)
    for key, (count, subtotal, tax) in billed.items():
        assert (rows[key]["lines"], rows[key]["subtotal"], rows[key]["tax"], rows[key]["total"]) == (
            count, cents(subtotal), cents(tax), cents(subtotal + tax),
        )  # fmt: skip
    # G001: 300.12345678 + 20.00 + 77.777 + 30.01 + 2.00 + 7.78 = 437.69045678 -> 437.69 against 430.90.
    assert rows[("G001", "USD")]["total"] == Decimal("437.69")
    assert (
        rows[("G001", "USD")]["difference"] == Decimal("6.79")
        and rows[("G001", "USD")]["status"] == "differs"
    )
    assert (
        rows[("G101", "EUR")]["status"] == "not recorded" and rows[("G101", "EUR")]["recorded_amount"] is None
    )


def test_matching_total_is_reported_as_matching(book: str) -> None:
    factories.microsoft_invoice("G201", cents=6_000, due=date(2026, 10, 31), currency="GBP")
    row = records(margin.reconciliation_invoices(BILLING)).pop(-1)
    assert (
        row["invoice_number"] == "G201"
        and row["status"] == "matches"
        and row["difference"] == Decimal("0.00")
    )


def test_empty_range_and_bad_arguments(book: str) -> None:
    empty = margin.margin_report(BILLING, date(2020, 1, 1), date(2020, 1, 31))
    assert empty.empty and list(empty.columns) == margin.MARGIN_COLUMNS
    assert margin.leakage(BILLING, date(2020, 1, 1), date(2020, 1, 31)).empty
    with pytest.raises(InvalidAction, match="before the start"):
        margin.margin_report(BILLING, END, START)
    with pytest.raises(InvalidAction, match="grouping"):
        margin.margin_report(BILLING, START, END, by="week")


def test_only_margin_viewers_see_margins(book: str) -> None:
    for actor in (SALES, HELPDESK):
        with pytest.raises(PermissionDenied):
            margin.margin_report(actor, START, END)
        with pytest.raises(PermissionDenied):
            margin.suspension_costs(actor)
