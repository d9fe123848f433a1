"""Exchange rates and Partner Center's new commerce reconciliation files, in Microsoft's own column names.

`partner-center-invoice` reads the invoice reconciliation file (billed; the unbilled file has the same columns with
InvoiceNumber empty) and `partner-center-usage` the daily rated usage file. What Microsoft bills the partner is
the file's own Subtotal (invoice) or BillingPreTaxTotal (usage), never recomputed, carried exactly to eight decimal
places. An import is streamed, all or nothing, and idempotent: the same file (by SHA-256) adds nothing the second
time; a billed file replaces the lines of its invoice numbers imported before and the unbilled lines of its
periods (months); an unbilled file replaces the unbilled lines of its periods, as it is the newer picture of them.
Lines are matched to customers (CustomerId, the tenant id) and subscriptions (SubscriptionId) when read, so a
line that matches nothing is kept and listed, never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, ClassVar

from sqlalchemy import BigInteger, delete, insert, select, tuple_, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.types import TypeDecorator

from data_access import config
from data_access.csv_import import fields as f
from data_access.csv_import.base import ADD, SKIP, UPDATE, Context, Kind, Planned
from data_access.csv_import.reader import Column, Row
from data_access.models import ExchangeRate, PartnerCenterImport, PartnerCenterLine

UNITS = Decimal("100000000")
"""Partner Center amounts and quantities are kept as integers in units of 1e-8."""
PLACES = Decimal("0.00000001")
MAX_LINE_AMOUNT = Decimal("1000000000")
MAX_RATE = Decimal("1000000")
_SIGNED = re.compile(r"[+-]?[0-9]+(\.[0-9]*)?|[+-]?\.[0-9]+")
_TIME = r"[0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,7})?)?"
_ISO_START = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ]" + _TIME + r"(Z|[+-][0-9]{2}:?[0-9]{2})?)?")
_TIME_AFTER = re.compile(_TIME + r"( ?[AaPp][Mm])?")
"""What may follow a date in a Partner Center file: a time of day (00:00:00, 12:00:00 AM), nothing else."""


def to_units(value: Decimal) -> int:
    return int((value * UNITS).to_integral_value(rounding=ROUND_HALF_EVEN))


def from_units(units: int | Decimal | None) -> Decimal:
    """PostgreSQL's SUM(bigint) arrives as Decimal, SQLite's as int; both come out exact."""
    return (Decimal(units or 0) / UNITS).quantize(PLACES)


class _ExactUnits(TypeDecorator[int | Decimal]):
    """A units_sum as the database returns it: PostgreSQL's numeric, or SQLite's "whole remainder" text."""

    impl = BigInteger
    cache_ok = True

    def process_result_value(self, value: int | Decimal | str | None, dialect: Any) -> int | Decimal | None:
        if isinstance(value, str):
            whole, remainder = value.split()
            return int(whole) * int(UNITS) + int(remainder)
        return value


class units_sum(GenericFunction[int | Decimal]):
    """SUM of a column of 1e-8 units, exact however large. PostgreSQL's SUM(bigint) is numeric; SQLite's would
    overflow 64 bits past about 92 thousand million, so there whole units and remainders are summed apart."""

    type = _ExactUnits()
    inherit_cache = True


@compiles(units_sum)
def _units_sum(element: units_sum, compiler: SQLCompiler, **kw: Any) -> str:
    return f"SUM({compiler.process(element.clauses, **kw)})"


@compiles(units_sum, "sqlite")
def _units_sum_sqlite(element: units_sum, compiler: SQLCompiler, **kw: Any) -> str:
    units = compiler.process(element.clauses, **kw)
    return f"(SUM(({units}) / {int(UNITS)}) || ' ' || SUM(({units}) % {int(UNITS)}))"


def signed_decimal(column: str, value: str) -> Decimal:
    """An amount or quantity as Partner Center writes it: signed (refunds are negative), a dot decimal, rounded
    half-even at the eighth decimal place, at most a thousand million either way."""
    if not _SIGNED.fullmatch(value):
        raise f.BadValue(
            f"{column} {f.shown(value)} is not a number (digits with a dot decimal, e.g. -12.50)"
        )
    amount = Decimal(value)
    if abs(amount) > MAX_LINE_AMOUNT:
        raise f.BadValue(f"{column} {f.cut(value)} is more than {MAX_LINE_AMOUNT:,} either way")
    return amount.quantize(PLACES, rounding=ROUND_HALF_EVEN)


def rate(column: str, value: str) -> Decimal:
    if not _SIGNED.fullmatch(value):
        raise f.BadValue(f"{column} {f.shown(value)} is not a rate (digits with a dot decimal, e.g. 1.0825)")
    number = Decimal(value)
    if number <= 0:
        raise f.BadValue(f"{column} {f.cut(value)} is not above zero")
    if number > MAX_RATE:
        raise f.BadValue(f"{column} {f.cut(value)} is more than {MAX_RATE:,}")
    if -number.as_tuple().exponent > 12:  # type: ignore[operator]
        raise f.BadValue(f"{column} {f.cut(value)} has more than 12 decimal places")
    return number.normalize() if number == number.to_integral_value() else number


def pc_day(date_format: str | None) -> f.Parser:
    """A date as Partner Center files write it: ISO (2026-11-01, or with a time), or the --date-format given (US
    files: %m/%d/%Y), with or without a time after it (11/1/2026 12:00:00 AM)."""
    iso = f.day(None)
    formatted = f.day(date_format) if date_format else None

    def parse(column: str, value: str) -> date:
        if formatted is not None:
            first, _, rest = value.partition(" ")
            if rest.strip() and not _TIME_AFTER.fullmatch(rest.strip()):
                raise f.BadValue(f"{column} {f.shown(value)} is not a date in the form {date_format}, with a time "
                                 "of day or nothing after it")  # fmt: skip
            try:
                day: date = formatted(column, first)
                return day
            except f.BadValue:
                if not _ISO_START.fullmatch(value):
                    raise
        if _ISO_START.fullmatch(value):
            iso_day: date = iso(column, value[:10])
            return iso_day
        raise f.BadValue(
            f"{column} {f.shown(value)} is not a date in the form YYYY-MM-DD; for US dates as Partner Center "
            "often writes them, import with --date-format %m/%d/%Y"
        )

    return parse


def ignored(column: str, value: str) -> None:
    """A documented column Billing Desk does not use: not read (so not refused), and no warning either."""
    return None


def month_of(day: date) -> date:
    return day.replace(day=1)


class ExchangeRates(Kind):
    """`rate_date,currency,rate`: units of the reporting currency for one unit of `currency`."""

    name, model, key_column, key_field = "exchange-rates", ExchangeRate, "currency", "currency"

    def columns(self, context: Context) -> list[Column]:
        return [
            Column("rate_date", f.day(context.date_format), required=True),
            Column("currency", f.currency, required=True),
            Column("rate", rate, required=True),
        ]

    def file_key(self, row: Row) -> tuple[Any, ...] | None:
        day, currency = row.values.get("rate_date"), row.values.get("currency")
        return None if day is None or currency is None else (day, currency)

    def check(self, row: Row, refs: dict[str, Any], context: Context) -> list[str]:
        day, currency, value = (row.values.get(name) for name in ("rate_date", "currency", "rate"))
        if day is not None and day > context.today:
            return [f"rate_date {day.isoformat()} is in the future"]
        reporting = config.settings().reporting_currency
        if currency == reporting and value is not None and value != 1:
            return [f"{reporting} is the reporting currency: its rate is always 1, not {value}"]
        return []

    def classify(self, session: Session, planned: Sequence[Planned], context: Context) -> None:
        readable = [p for p in planned if not p.reasons]  # a refused row may lack its currency or date
        keys = {(p.row.values["currency"], p.row.values["rate_date"]) for p in readable}
        existing: dict[tuple[str, date], str] = {}
        if keys:
            found = session.execute(
                select(ExchangeRate.currency, ExchangeRate.rate_date, ExchangeRate.rate).where(
                    tuple_(ExchangeRate.currency, ExchangeRate.rate_date).in_(list(keys))
                )
            )
            existing = {(r.currency, r.rate_date): r.rate for r in found}
        for p in readable:
            key = (p.row.values["currency"], p.row.values["rate_date"])
            if key in existing:
                same = Decimal(existing[key]) == p.row.values["rate"]
                p.action = UPDATE if context.update and not same else SKIP

    def write(self, session: Session, planned: Sequence[Planned], context: Context) -> None:
        def values(p: Planned) -> dict[str, Any]:
            v = p.row.values
            return {"rate_date": v["rate_date"], "currency": v["currency"], "rate": str(v["rate"])}

        new = [values(p) for p in planned if p.action == ADD]
        if new:
            session.execute(insert(ExchangeRate), new)
        for p in planned:
            if p.action == UPDATE:
                session.execute(
                    update(ExchangeRate)
                    .where(
                        ExchangeRate.currency == p.row.values["currency"],
                        ExchangeRate.rate_date == p.row.values["rate_date"],
                    )
                    .values(rate=str(p.row.values["rate"]))
                    .execution_options(synchronize_session=False)
                )


class PartnerCenterFile(Kind):
    """What the two reconciliation files share; subclasses name the columns and map a row to a line."""

    model = PartnerCenterLine
    key_column = key_field = ""
    source: ClassVar[str]
    updatable = False
    used: ClassVar[dict[str, Any]] = {}
    documented: ClassVar[tuple[str, ...]] = ()
    required: ClassVar[tuple[str, ...]] = ()

    @property
    def lock(self) -> str:
        return "import:partner-center"

    def columns(self, context: Context) -> list[Column]:
        day = pc_day(context.date_format)
        parsers: dict[str, f.Parser] = {name: ignored for name in self.documented}
        parsers |= {name: day if parse is pc_day else parse for name, parse in self.used.items()}
        return [
            Column(
                name,
                parse,
                required=name in self.required,
                read=parse is not ignored,
                label=LABELS.get(name, ""),
            )
            for name, parse in parsers.items()
        ]

    def file_key(self, row: Row) -> tuple[Any, ...] | None:
        return None

    def check(self, row: Row, refs: dict[str, Any], context: Context) -> list[str]:
        line = refs["line"] = self.line(row)  # made once per plan; classify and write read it from refs
        if line is None:
            return []
        if line["charge_start"] and line["charge_end"] and line["charge_end"] < line["charge_start"]:
            return ["ChargeEndDate is before ChargeStartDate"]
        context.periods.add(line["period"])
        if line["invoice_number"]:
            context.invoices.add(line["invoice_number"])
        return []

    def classify(self, session: Session, planned: Sequence[Planned], context: Context) -> None:
        """The same file again: every line skipped. An unbilled line of a month already billed (a billed file of
        that month was imported): skipped, as the billed file holds that month and an older unbilled picture of
        it would count its charges twice."""
        if context.already_imported is not None:
            for p in planned:
                p.action = SKIP
            return
        unbilled = [(p, line) for p in planned if (line := p.refs.get("line")) and not line["invoice_number"]]
        periods = {line["period"] for _, line in unbilled}
        if not periods:
            return
        billed = set(session.scalars(
            select(PartnerCenterLine.period).distinct().where(
                PartnerCenterLine.source == self.source,
                PartnerCenterLine.invoice_number.is_not(None),
                PartnerCenterLine.period.in_(sorted(periods)),
            )
        ))  # fmt: skip
        for p, line in unbilled:
            if line["period"] in billed:
                p.action = SKIP
                context.stale_months.add(line["period"])

    def begin(self, session: Session, context: Context, file_name: str, actor_name: str) -> int:
        """Before the first line is written (under the import's lock): the file is recorded and the lines it
        replaces are removed; returns how many were removed."""
        if context.already_imported is not None:
            return 0
        replaced = 0
        periods = sorted(context.periods)
        for start in range(0, len(periods), 500):
            replaced += _count(session.execute(
                delete(PartnerCenterLine).where(
                    PartnerCenterLine.source == self.source,
                    PartnerCenterLine.invoice_number.is_(None),
                    PartnerCenterLine.period.in_(periods[start : start + 500]),
                )
            ))  # fmt: skip
        invoices = sorted(context.invoices)
        for start in range(0, len(invoices), 500):
            replaced += _count(session.execute(
                delete(PartnerCenterLine).where(
                    PartnerCenterLine.source == self.source,
                    PartnerCenterLine.invoice_number.in_(invoices[start : start + 500]),
                )
            ))  # fmt: skip
        imported = PartnerCenterImport(
            source=self.source,
            sha256=context.sha256 or "",
            file_name=file_name[:300],
            lines=0,
            replaced=replaced,
            imported_by=actor_name[:100],
        )
        session.add(imported)
        session.flush()
        context.import_id = imported.id
        return replaced

    def finish(self, session: Session, context: Context, lines: int) -> None:
        if context.import_id is not None:
            session.execute(
                update(PartnerCenterImport)
                .where(PartnerCenterImport.id == context.import_id)
                .values(lines=lines)
            )

    def line(self, row: Row) -> dict[str, Any] | None:
        raise NotImplementedError

    def write(self, session: Session, planned: Sequence[Planned], context: Context) -> None:
        new = []
        for p in planned:
            if p.action != ADD:
                continue
            line = p.refs.get("line")
            if line is not None:
                new.append(
                    line | {"import_id": context.import_id, "source": self.source, "line_no": p.row.line}
                )
        if new:
            session.execute(insert(PartnerCenterLine), new)


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _units(value: Decimal | None) -> int | None:
    return None if value is None else to_units(value)


def _reseller(v: dict[str, Any]) -> str | None:
    return v.get("tier2mpnid") or v.get("resellermpnid")


def plain_decimal(number: Decimal) -> Decimal:
    """A number without trailing zeros, never in exponent form (10.00000000 is 10, not 1E+1; 0.50 is 0.5)."""
    return number.quantize(Decimal(1)) if number == number.to_integral_value() else number.normalize()


def _price(value: Decimal | None) -> str | None:
    return None if value is None else str(plain_decimal(value))


INVOICE_COLUMNS = [
    "PartnerId",
    "CustomerId",
    "CustomerName",
    "CustomerDomainName",
    "CustomerCountry",
    "InvoiceNumber",
    "MpnId",
    "Tier2MpnId",
    "OrderId",
    "OrderDate",
    "ProductId",
    "SkuId",
    "AvailabilityId",
    "SkuName",
    "ProductName",
    "ChargeType",
    "UnitPrice",
    "Quantity",
    "Subtotal",
    "TaxTotal",
    "Total",
    "Currency",
    "PriceAdjustmentDescription",
    "PublisherName",
    "PublisherId",
    "SubscriptionDescription",
    "SubscriptionId",
    "ChargeStartDate",
    "ChargeEndDate",
    "TermAndBillingCycle",
    "EffectiveUnitPrice",
    "UnitType",
    "AlternateId",
    "BillableQuantity",
    "BillingFrequency",
    "PricingCurrency",
    "PCToBCExchangeRate",
    "PCToBCExchangeRateDate",
    "MeterDescription",
    "ReservationOrderId",
    "CreditReasonCode",
    "SubscriptionStartDate",
    "SubscriptionEndDate",
    "ReferenceId",
    "ProductQualifiers",
    "PromotionId",
    "ProductCategory",
]
"""Partner Center's new commerce invoice reconciliation file's header, in order; older files name Tier2MpnId
ResellerMpnId, and the last column may be absent."""

USAGE_COLUMNS = [
    "PartnerId",
    "PartnerName",
    "CustomerId",
    "CustomerName",
    "CustomerDomainName",
    "CustomerCountry",
    "MpnId",
    "Tier2MpnId",
    "InvoiceNumber",
    "ProductId",
    "SkuId",
    "AvailabilityId",
    "SkuName",
    "ProductName",
    "PublisherName",
    "PublisherId",
    "SubscriptionDescription",
    "SubscriptionId",
    "ChargeStartDate",
    "ChargeEndDate",
    "UsageDate",
    "MeterType",
    "MeterCategory",
    "MeterId",
    "MeterSubCategory",
    "MeterName",
    "MeterRegion",
    "Unit",
    "ResourceLocation",
    "ConsumedService",
    "ResourceGroup",
    "ResourceURI",
    "ChargeType",
    "UnitPrice",
    "Quantity",
    "UnitType",
    "BillingPreTaxTotal",
    "BillingCurrency",
    "PricingPreTaxTotal",
    "PricingCurrency",
    "ServiceInfo1",
    "ServiceInfo2",
    "Tags",
    "AdditionalInfo",
    "EffectiveUnitPrice",
    "PCToBCExchangeRate",
    "PCToBCExchangeRateDate",
    "EntitlementId",
    "EntitlementDescription",
    "PartnerEarnedCreditPercentage",
    "CreditPercentage",
    "CreditType",
    "BenefitId",
    "BenefitOrderId",
    "BenefitType",
]
"""Partner Center's new commerce daily rated usage file's header, in order (older files: ResellerMpnId)."""


LABELS = {name.lower(): name for name in (*INVOICE_COLUMNS, *USAGE_COLUMNS, "ResellerMpnId")}
"""Messages name a column as Microsoft spells it (ChargeStartDate), not as it is matched (chargestartdate)."""


def _names(columns: Sequence[str]) -> tuple[str, ...]:
    return (*(name.lower() for name in columns), "resellermpnid")


SHARED: dict[str, Any] = {
    "customerid": f.tenant, "customername": f.text(200), "customerdomainname": f.text(253),
    "invoicenumber": f.text(64), "tier2mpnid": f.text(40), "resellermpnid": f.text(40), "skuname": f.text(300),
    "productname": f.text(300), "chargetype": f.text(40), "effectiveunitprice": signed_decimal,
    "subscriptionid": f.text(64), "chargestartdate": pc_day, "chargeenddate": pc_day,
}  # fmt: skip
"""The columns both files have and Billing Desk reads, with their parsers (pc_day: the date format given)."""


def _shared_line(v: dict[str, Any]) -> dict[str, Any]:
    """What a line of either file stores from the columns both have."""
    return {
        "invoice_number": v.get("invoicenumber"), "customer_tenant": v["customerid"],
        "customer_name": v.get("customername"), "customer_domain": v.get("customerdomainname"),
        "reseller_mpn_id": _reseller(v), "subscription_ref": v.get("subscriptionid"),
        "product_name": v.get("productname"), "sku_name": v.get("skuname"), "charge_type": v.get("chargetype"),
        "charge_end": v.get("chargeenddate"), "unit_price": _price(v.get("effectiveunitprice")),
    }  # fmt: skip


class PartnerCenterInvoice(PartnerCenterFile):
    name, source = "partner-center-invoice", "invoice"
    documented = _names(INVOICE_COLUMNS)
    required = ("customerid", "subtotal", "currency", "chargestartdate")
    used: ClassVar[dict[str, Any]] = {
        **SHARED, "billablequantity": signed_decimal, "subtotal": signed_decimal, "taxtotal": signed_decimal,
        "currency": f.currency, "referenceid": f.text(64),
    }  # fmt: skip

    def line(self, row: Row) -> dict[str, Any] | None:
        v = row.values
        start = v.get("chargestartdate")
        if start is None or v.get("subtotal") is None or v.get("customerid") is None:
            return None
        return _shared_line(v) | {
            "period": month_of(start), "meter_name": None, "charge_start": start, "usage_date": None,
            "quantity_units": _units(v.get("billablequantity")), "cost_units": to_units(v["subtotal"]),
            "tax_units": _units(v.get("taxtotal")), "currency": v.get("currency") or "",
            "reference_id": v.get("referenceid"),
        }  # fmt: skip


class PartnerCenterUsage(PartnerCenterFile):
    name, source = "partner-center-usage", "usage"
    documented = _names(USAGE_COLUMNS)
    required = ("customerid", "billingpretaxtotal", "billingcurrency", "usagedate")
    used: ClassVar[dict[str, Any]] = {
        **SHARED, "metername": f.text(300), "quantity": signed_decimal, "billingpretaxtotal": signed_decimal,
        "billingcurrency": f.currency, "usagedate": pc_day,
    }  # fmt: skip

    def line(self, row: Row) -> dict[str, Any] | None:
        v = row.values
        used_on = v.get("usagedate")
        if used_on is None or v.get("billingpretaxtotal") is None or v.get("customerid") is None:
            return None
        return _shared_line(v) | {
            "period": month_of(used_on), "meter_name": v.get("metername"),
            "charge_start": v.get("chargestartdate"), "usage_date": used_on,
            "quantity_units": _units(v.get("quantity")), "cost_units": to_units(v["billingpretaxtotal"]),
            "tax_units": None, "currency": v.get("billingcurrency") or "", "reference_id": None,
        }  # fmt: skip
