"""Typed SQLAlchemy models for every entity of the billing domain.

Money columns are integer cents (`*_cents`). Times are UTC. Status-like columns hold the exact values listed in
the enums below, enforced by CHECK constraints so that a bad import cannot slip past the application.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from data_access.enums import (
    ActivityKind,
    BillingCycle,
    Choices,
    EscalationKind,
    EscalationStatus,
    Severity,
    StageAction,
    SubscriptionStatus,
    SupportVehicle,
    TicketCategory,
    TicketStatus,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC (SQLite has no time zones) and always hands back an aware UTC datetime."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("Times must carry a time zone; Billing Desk stores UTC.")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _one_of(column: str, values: type[Choices], name: str) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values.values())
    return CheckConstraint(f"{column} IN ({listed})", name=name)


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    tenant_id: Mapped[str | None] = mapped_column(String(36), index=True)
    domain: Mapped[str | None] = mapped_column(String(253), index=True)
    country: Mapped[str | None] = mapped_column(String(2))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    account_manager: Mapped[str | None] = mapped_column(String(100), index=True)
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=30)
    credit_limit_cents: Mapped[int | None] = mapped_column(BigInteger)
    billing_contact_name: Mapped[str | None] = mapped_column(String(200))
    billing_contact_email: Mapped[str | None] = mapped_column(String(254))
    exempt_from_collections: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    subscriptions: Mapped[list[Subscription]] = relationship(back_populates="customer")
    invoices: Mapped[list[Invoice]] = relationship(back_populates="customer")

    __table_args__ = (
        CheckConstraint("payment_terms_days >= 0", name="terms_not_negative"),
        CheckConstraint("credit_limit_cents IS NULL OR credit_limit_cents >= 0", name="limit_not_negative"),
    )


class Subscription(Base):
    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    product: Mapped[str] = mapped_column(String(200))
    sku: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(BigInteger)
    billing_cycle: Mapped[str] = mapped_column(String(20), default=BillingCycle.MONTHLY.value)
    term_end: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default=SubscriptionStatus.ACTIVE.value)
    suspension_reason: Mapped[str | None] = mapped_column(Text)
    suspended_by: Mapped[str | None] = mapped_column(String(100))
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    customer: Mapped[Customer] = relationship(back_populates="subscriptions")

    __table_args__ = (
        _one_of("status", SubscriptionStatus, "status_known"),
        _one_of("billing_cycle", BillingCycle, "cycle_known"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        CheckConstraint("unit_price_cents >= 0", name="price_not_negative"),
    )


class Invoice(Base):
    """A customer invoice; `open_cents` is kept equal to amount minus payments and credit notes applied."""

    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    open_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    disputed: Mapped[bool] = mapped_column(Boolean, default=False)
    # A voided invoice was issued in error: void from the start, it owes nothing at any date. Its amount and open
    # balance are 0 (so every sum, aging and statement leaves it out without a filter of its own) and the amount
    # it carried is kept in `voided_amount_cents`. Only an invoice without payments or credit notes is voided.
    voided_on: Mapped[date | None] = mapped_column(Date)
    voided_by: Mapped[str | None] = mapped_column(String(100))
    void_reason: Mapped[str | None] = mapped_column(String(200))
    voided_amount_cents: Mapped[int | None] = mapped_column(BigInteger)

    customer: Mapped[Customer] = relationship(back_populates="invoices")

    __table_args__ = (
        CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
        CheckConstraint("open_cents >= 0 AND open_cents <= amount_cents", name="open_within_amount"),
        CheckConstraint("due_date >= issue_date", name="due_after_issue"),
        CheckConstraint(
            "voided_on IS NULL OR (amount_cents = 0 AND open_cents = 0 AND voided_amount_cents IS NOT NULL)",
            name="voided_owes_nothing",
        ),
        # Today's aging reads only open invoices, from this index alone (the predicate is repeated
        # literally in the query, or the planner will not use it).
        Index(
            "ix_invoices_open_aging",
            "due_date",
            "issue_date",
            "currency",
            "customer_id",
            "open_cents",
            "id",
            sqlite_where=text("open_cents > 0"),
            postgresql_where=text("open_cents > 0"),
        ),
        # The same open invoices by currency first: today's aging summary and the Overview's figures sum one range
        # of it per currency and due-date bucket, grouped in index order (SQLite sorts every row otherwise).
        Index(
            "ix_invoices_open_currency",
            "currency",
            "due_date",
            "issue_date",
            "open_cents",
            sqlite_where=text("open_cents > 0"),
            postgresql_where=text("open_cents > 0"),
        ),
        Index("ix_invoices_customer_issue", "customer_id", "issue_date"),
        # Invoiced in a period (days sales outstanding) reads a date range of this index alone.
        Index("ix_invoices_issued", "issue_date", "currency", "amount_cents"),
    )


class Payment(Base):
    """Money received from a customer; what no open invoice absorbed stays in `unapplied_cents`."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    received_on: Mapped[date] = mapped_column(Date, index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    unapplied_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    reference: Mapped[str | None] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What makes this payment once: the import's row signature or the form's submission token.
    entry_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    reversed_on: Mapped[date | None] = mapped_column(Date)
    reversed_by: Mapped[str | None] = mapped_column(String(100))
    reversal_reason: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("unapplied_cents >= 0 AND unapplied_cents <= amount_cents", name="unapplied_within"),
        CheckConstraint("reversed_on IS NULL OR unapplied_cents = 0", name="reversed_holds_nothing"),
        Index(
            "ix_payments_unapplied",
            "customer_id",
            "currency",
            "unapplied_cents",
            sqlite_where=text("unapplied_cents > 0"),
            postgresql_where=text("unapplied_cents > 0"),
        ),
        # Money returned in a period (the overview's "collected this month") reads the few reversed payments only.
        Index(
            "ix_payments_reversed",
            "reversed_on",
            "currency",
            "amount_cents",
            sqlite_where=text("reversed_on IS NOT NULL"),
            postgresql_where=text("reversed_on IS NOT NULL"),
        ),
    )


class PaymentAllocation(Base):
    """The part of a payment applied to one invoice, effective from `applied_on`; a reversal is a negative
    allocation dated the day the payment was reversed, so the invoice was paid in between and open again after.

    The invoice's aging attributes are copied here so that an aging as of a past date reads the allocations made
    since then from one index, without a join back to invoices.
    """

    __tablename__ = "payment_allocations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    applied_on: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)

    __table_args__ = (
        CheckConstraint("amount_cents <> 0", name="amount_not_zero"),
        CheckConstraint("applied_on >= issue_date", name="applied_after_issue"),
        Index(
            "ix_payment_allocations_aging",
            "applied_on",
            "due_date",
            "issue_date",
            "currency",
            "customer_id",
            "invoice_id",
            "amount_cents",
        ),
    )


class CreditNote(Base):
    """A credit against one invoice; a write-off is a credit note with reason 'write-off'. A reversal is a
    negative line of its own (`reverses_id`), dated the day of the reversal; the original is kept and marked."""

    __tablename__ = "credit_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    issued_on: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(String(200))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("credit_notes.id"), unique=True)
    reversed_on: Mapped[date | None] = mapped_column(Date)
    reversed_by: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (
        CheckConstraint(
            "amount_cents > 0 OR (amount_cents < 0 AND reverses_id IS NOT NULL)", name="amount_sign"
        ),
        CheckConstraint("issued_on >= issue_date", name="issued_after_invoice"),
        Index(
            "ix_credit_notes_aging",
            "issued_on",
            "due_date",
            "issue_date",
            "currency",
            "customer_id",
            "invoice_id",
            "amount_cents",
        ),
    )


class CollectionsActivity(Base):
    __tablename__ = "collections_activities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    kind: Mapped[str] = mapped_column(String(30))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    notes: Mapped[str | None] = mapped_column(Text)
    promised_amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    promised_for: Mapped[date | None] = mapped_column(Date)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        _one_of("kind", ActivityKind, "kind_known"),
        CheckConstraint(
            "promised_amount_cents IS NULL OR promised_amount_cents > 0", name="promise_positive"
        ),
    )


class CollectionsPolicy(Base):
    """The partner's collections policy (one row); its stages are ordered by days past due."""

    __tablename__ = "collections_policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    minimum_overdue_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    grace_days_before_suspension: Mapped[int] = mapped_column(Integer, default=0)
    disputes_stop_clock: Mapped[bool] = mapped_column(Boolean, default=True)
    statement_intro: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(100))

    stages: Mapped[list[PolicyStage]] = relationship(
        back_populates="policy", order_by="PolicyStage.days_past_due", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint("minimum_overdue_cents >= 0", name="minimum_not_negative"),
        CheckConstraint("grace_days_before_suspension >= 0", name="grace_not_negative"),
    )


class PolicyStage(Base):
    __tablename__ = "policy_stages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("collections_policies.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    days_past_due: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(30))
    message_template: Mapped[str] = mapped_column(Text)

    policy: Mapped[CollectionsPolicy] = relationship(back_populates="stages")

    __table_args__ = (
        _one_of("action", StageAction, "action_known"),
        CheckConstraint("days_past_due >= 1", name="days_positive"),
    )


class SupportOffering(Base):
    """Service hours (weekly business-hours calendar in a time zone), contact methods and pricing (one row)."""

    __tablename__ = "support_offerings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64))
    business_hours: Mapped[dict[str, Any]] = mapped_column(JSON)
    contact_methods: Mapped[list[Any]] = mapped_column(JSON)
    pricing: Mapped[str | None] = mapped_column(Text)
    # [{"item": ..., "currency": "USD", "amount": "150.00", "unit": "hour"}]: amounts as exact decimal strings.
    pricing_rates: Mapped[list[Any] | None] = mapped_column(JSON)
    entitlements: Mapped[list[Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(100))


class SupportTarget(Base):
    __tablename__ = "support_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("support_offerings.id"), index=True)
    severity: Mapped[str] = mapped_column(String(20))
    first_response_hours: Mapped[int] = mapped_column(Integer)
    resolution_hours: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        _one_of("severity", Severity, "severity_known"),
        CheckConstraint("first_response_hours > 0 AND resolution_hours > 0", name="targets_positive"),
    )


class Holiday(Base):
    __tablename__ = "holidays"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("support_offerings.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(200))


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)  # None: triage
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(30))
    severity: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str | None] = mapped_column(String(30))
    assignee: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    escalations: Mapped[list[Escalation]] = relationship(back_populates="ticket")

    __table_args__ = (
        _one_of("category", TicketCategory, "category_known"),
        _one_of("severity", Severity, "severity_known"),
        _one_of("status", TicketStatus, "status_known"),
        Index("ix_tickets_status", "status"),
    )


class Escalation(Base):
    """A case opened with Microsoft for a ticket: commercial (every partner) or technical (through a vehicle)."""

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    vehicle: Mapped[str | None] = mapped_column(String(60))
    microsoft_case_number: Mapped[str] = mapped_column(String(64), unique=True)
    severity: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(30))
    notes: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(100))

    ticket: Mapped[Ticket] = relationship(back_populates="escalations")

    __table_args__ = (
        _one_of("kind", EscalationKind, "kind_known"),
        _one_of("severity", Severity, "severity_known"),
        _one_of("status", EscalationStatus, "status_known"),
        CheckConstraint(
            "(kind = 'commercial' AND vehicle IS NULL) OR (kind = 'technical' AND vehicle IN ("
            + ", ".join(f"'{v}'" for v in SupportVehicle.values())
            + "))",
            name="vehicle_matches_kind",
        ),
        Index("ix_escalations_status", "status"),
    )


class MicrosoftInvoice(Base):
    """The partner's own invoice from Microsoft (what the partner owes and must pay on time)."""

    __tablename__ = "microsoft_invoices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    due_date: Mapped[date] = mapped_column(Date, index=True)
    paid_on: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (CheckConstraint("amount_cents >= 0", name="amount_not_negative"),)


class ExchangeRate(Base):
    """Units of the reporting currency for one unit of `currency`, from `rate_date` on (until a later rate). The rate
    is kept as its exact decimal text: conversions happen in Python on a handful of per-currency totals."""

    __tablename__ = "exchange_rates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rate_date: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    rate: Mapped[str] = mapped_column(String(40))

    __table_args__ = (UniqueConstraint("currency", "rate_date", name="uq_exchange_rates_currency_day"),)


class PartnerCenterImport(Base):
    """One Partner Center reconciliation file imported: the same file (by SHA-256) is never imported twice."""

    __tablename__ = "partner_center_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(10))
    sha256: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(300))
    lines: Mapped[int] = mapped_column(Integer)
    replaced: Mapped[int] = mapped_column(Integer, default=0)
    imported_by: Mapped[str] = mapped_column(String(100))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("source", "sha256", name="uq_partner_center_imports_file"),
        CheckConstraint("source IN ('invoice', 'usage')", name="source_known"),
    )


class PartnerCenterLine(Base):
    """A line of a Partner Center reconciliation file: what Microsoft bills the partner (`cost_units`, the file's
    Subtotal or BillingPreTaxTotal, in units of 1e-8 of `currency`, exact to eight decimal places). Lines with no
    invoice number are unbilled; a billed file replaces the unbilled lines of its periods. `period` is the first
    day of the month the charge belongs to (ChargeStartDate for invoice lines, UsageDate for usage lines).
    Customers and subscriptions are matched when read, by tenant id and subscription id, so a customer imported
    later finds its lines."""

    __tablename__ = "partner_center_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("partner_center_imports.id"), index=True)
    source: Mapped[str] = mapped_column(String(10))
    line_no: Mapped[int] = mapped_column(Integer)
    invoice_number: Mapped[str | None] = mapped_column(String(64))
    period: Mapped[date] = mapped_column(Date)
    customer_tenant: Mapped[str] = mapped_column(String(36))
    customer_name: Mapped[str | None] = mapped_column(String(200))
    customer_domain: Mapped[str | None] = mapped_column(String(253))
    reseller_mpn_id: Mapped[str | None] = mapped_column(String(40))
    subscription_ref: Mapped[str | None] = mapped_column(String(64))
    product_name: Mapped[str | None] = mapped_column(String(300))
    sku_name: Mapped[str | None] = mapped_column(String(300))
    meter_name: Mapped[str | None] = mapped_column(String(300))
    charge_type: Mapped[str | None] = mapped_column(String(40))
    charge_start: Mapped[date | None] = mapped_column(Date)
    charge_end: Mapped[date | None] = mapped_column(Date)
    usage_date: Mapped[date | None] = mapped_column(Date)
    quantity_units: Mapped[int | None] = mapped_column(BigInteger)
    unit_price: Mapped[str | None] = mapped_column(String(40))
    cost_units: Mapped[int] = mapped_column(BigInteger)
    tax_units: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reference_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        CheckConstraint("source IN ('invoice', 'usage')", name="source_known"),
        Index("ix_partner_center_lines_tenant_period", "customer_tenant", "period"),
        Index("ix_partner_center_lines_period", "period", "source"),
        Index("ix_partner_center_lines_subscription", "subscription_ref"),
        Index("ix_partner_center_lines_invoice", "invoice_number"),
    )


class PartnerProfile(Base):
    """The partner's own details (one row): who sends statements and reminders, and how customers pay them."""

    __tablename__ = "partner_profile"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("logo IS NULL OR logo_type IN ('image/png', 'image/jpeg')", name="logo_type_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(Text)
    tax_id: Mapped[str | None] = mapped_column(String(50))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    bank_name: Mapped[str | None] = mapped_column(String(200))
    bank_account: Mapped[str | None] = mapped_column(String(64))
    bank_bic: Mapped[str | None] = mapped_column(String(11))
    payment_reference: Mapped[str | None] = mapped_column(String(300))
    logo: Mapped[bytes | None] = mapped_column(LargeBinary)
    logo_type: Mapped[str | None] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(100))


class AuditEvent(Base):
    """Who did what to which record, with before/after; written in the same transaction as the change."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100), index=True)
    roles: Mapped[list[str]] = mapped_column(JSON)
    permission: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class LoginAttempt(Base):
    """Failed sign-ins per username and the lockout they led to; shared by every app server."""

    __tablename__ = "login_attempts"

    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Sign-in cookies issued before this time no longer sign the user in (sign-out reaches every browser).
    signed_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DataVersion(Base):
    """One row whose number goes up with every committed write (data_access.db.transaction bumps it just before
    commit). Every app server keys its caches on it, so a change made through one server shows on the next rerun
    of every other; a session compares it across primary and replica to read its own writes."""

    __tablename__ = "data_version"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class SubjectVersion(Base):
    """The data version at which each subject (receivables, collections, tickets, users, ...) last changed: a
    transaction sets the subjects whose tables it wrote to the version it bumped `data_version` to, and each cached
    read is keyed on the versions of the subjects it reads, so a ticket update leaves the receivables pages warm."""

    __tablename__ = "subject_versions"

    subject: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class ReceivablesMonthEnd(Base):
    """What was open at the end of one month in one currency, and of it what was overdue (due before that day), as
    `ledger.open_at` reads it: the Overview's trend, kept so that a year of payments is not summed again on every
    read. A row holds only while nothing dated on or before its month end changes: every transaction that writes
    invoices, payment allocations or credit notes deletes the rows from its earliest date on, in that transaction
    (data_access.db), and a reader stores rows only when no such write committed since it read (month_ends.keep)."""

    __tablename__ = "receivables_month_ends"

    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    month_end: Mapped[date] = mapped_column(Date, primary_key=True)
    open_cents: Mapped[int] = mapped_column(BigInteger)
    overdue_cents: Mapped[int] = mapped_column(BigInteger)


class CollectionState(Base):
    """A customer's standing under the collections policy as the engine (`rules.policy.assess`) last judged it,
    for the day `as_of`: one row per customer with an overdue or disputed balance. Kept up to date by the daily
    collections run and, for one customer, in the same transaction as every write that changes their account."""

    __tablename__ = "collection_states"

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id"), primary_key=True, autoincrement=False
    )
    as_of: Mapped[date] = mapped_column(Date)
    stage: Mapped[str | None] = mapped_column(String(100), index=True)
    stage_entered_on: Mapped[date | None] = mapped_column(Date)
    clock_stage: Mapped[str | None] = mapped_column(String(100))
    days_past_due: Mapped[int] = mapped_column(Integer, default=0)
    overdue_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    disputed_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    below_minimum: Mapped[bool] = mapped_column(Boolean, default=False)
    oldest_invoice: Mapped[str | None] = mapped_column(String(64))
    exempt: Mapped[bool] = mapped_column(Boolean, default=False)
    due_now: Mapped[str | None] = mapped_column(String(30))
    next_step: Mapped[str | None] = mapped_column(String(100))
    next_step_on: Mapped[date | None] = mapped_column(Date)
    held_by_promise: Mapped[bool] = mapped_column(Boolean, default=False)
    promise_until: Mapped[date | None] = mapped_column(Date)
    kept_promises: Mapped[int] = mapped_column(Integer, default=0)
    broken_promises: Mapped[int] = mapped_column(Integer, default=0)
    suspension_eligible: Mapped[bool] = mapped_column(Boolean, default=False)
    suspension_eligible_on: Mapped[date | None] = mapped_column(Date)
    last_contact: Mapped[str | None] = mapped_column(String(30))
    last_contact_on: Mapped[date | None] = mapped_column(Date)
    priority: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("overdue_cents >= 0 AND disputed_cents >= 0", name="amounts_not_negative"),
        CheckConstraint("days_past_due >= 0", name="days_not_negative"),
    )


class CollectionStageChange(Base):
    """The history of a customer's collections stages: each stage entered (`stage` NULL: out of every stage), on
    which day and why, and when and why it was left. At most one row per customer is open (left_on NULL)."""

    __tablename__ = "collection_stage_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    stage: Mapped[str | None] = mapped_column(String(100))
    entered_on: Mapped[date] = mapped_column(Date)
    entered_because: Mapped[str] = mapped_column(String(300))
    left_on: Mapped[date | None] = mapped_column(Date)
    left_because: Mapped[str | None] = mapped_column(String(300))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index(
            "uq_collection_stage_changes_one_open",
            "customer_id",
            unique=True,
            sqlite_where=text("left_on IS NULL"),
            postgresql_where=text("left_on IS NULL"),
        ),
    )


class CollectionsRun(Base):
    """One run of `collections run`: the day it assessed, when, where, what it found and sent."""

    __tablename__ = "collections_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    as_of: Mapped[date] = mapped_column(Date, index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    host: Mapped[str | None] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(100))
    customers_assessed: Mapped[int] = mapped_column(Integer, default=0)
    stage_changes: Mapped[int] = mapped_column(Integer, default=0)
    messages_queued: Mapped[int] = mapped_column(Integer, default=0)
    messages_sent: Mapped[int] = mapped_column(Integer, default=0)
    messages_failed: Mapped[int] = mapped_column(Integer, default=0)


class OutboxMessage(Base):
    """An e-mail to a customer, queued in the same transaction as what it tells (a collections reminder, a ticket
    reply) and delivered later over SMTP, or written as an .eml file when no SMTP server is configured. `key` makes
    it once: a reminder's is its customer, stage and the day the stage was entered."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("collections_activities.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    stage: Mapped[str | None] = mapped_column(String(100))
    stage_entered_on: Mapped[date | None] = mapped_column(Date)
    message_id: Mapped[str] = mapped_column(String(300), unique=True)
    sender: Mapped[str] = mapped_column(String(254))
    recipients: Mapped[str] = mapped_column(String(2000))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    attachment_name: Mapped[str | None] = mapped_column(String(200))
    attachment_type: Mapped[str | None] = mapped_column(String(100))
    attachment: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_via: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    headers: Mapped[dict[str, str] | None] = mapped_column(JSON)  # a reply's In-Reply-To, References

    __table_args__ = (
        CheckConstraint("status IN ('queued', 'sending', 'sent', 'failed')", name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    )


class TicketMessage(Base):
    """One e-mail of a ticket's conversation: the customer's, taken from the support mailbox (direction "in"), or
    an agent's reply, queued in the outbox in the same transaction (direction "out", `outbox_message_id`)."""

    __tablename__ = "ticket_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    direction: Mapped[str] = mapped_column(String(3))
    message_id: Mapped[str] = mapped_column(String(300), unique=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(300))
    reference_ids: Mapped[str | None] = mapped_column(Text)  # References: Message-IDs, space-separated
    sender: Mapped[str | None] = mapped_column(String(500))
    reply_to: Mapped[str | None] = mapped_column(String(500))
    recipients: Mapped[str] = mapped_column(String(2000))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)  # what could not be read or kept
    dated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the Date header of an incoming message
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    author: Mapped[str | None] = mapped_column(String(100))  # the agent who wrote a reply
    outbox_message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"), unique=True)

    __table_args__ = (
        CheckConstraint("direction IN ('in', 'out')", name="direction_known"),
        CheckConstraint(
            "(direction = 'out') = (outbox_message_id IS NOT NULL)", name="replies_go_through_the_outbox"
        ),
    )


class TicketAttachment(Base):
    """A file that came with a customer's e-mail: its content in the database, or in BILLING_DESK_ATTACHMENTS_DIR
    under `path` (named by its SHA-256, so a file written twice is one file)."""

    __tablename__ = "ticket_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_message_id: Mapped[int] = mapped_column(ForeignKey("ticket_messages.id"), index=True)
    file_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    path: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        CheckConstraint("(content IS NULL) <> (path IS NULL)", name="content_or_path"),
        CheckConstraint("size_bytes >= 0", name="size_not_negative"),
    )


class ReceivedMail(Base):
    """Every message taken from the support mailbox, once per Message-ID (a second fetch, or a copy delivered
    twice, finds it here and creates nothing): what became of it (a new ticket, a reply on one, or refused, and
    why)."""

    __tablename__ = "received_mail"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(300), unique=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(String(20))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    sender: Mapped[str | None] = mapped_column(String(500))
    subject: Mapped[str | None] = mapped_column(String(300))
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (CheckConstraint("outcome IN ('ticket', 'reply', 'refused')", name="outcome_known"),)
