"""What every import kind shares: planning a chunk (add, update or skip each row, and every reason a row is
refused) and writing a planned chunk inside the caller's transaction.

`plan` runs twice: once in the read-only check phase, which reports, and again inside the write transaction
after the import's lock is taken, so what is written and counted is judged on what is there at that moment.
With `--update` a row changes only what it states: a column the file has, with a non-empty cell; a new row
gets the defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from data_access.csv_import.reader import Column, Row, RowError
from data_access.models import Customer

ADD, UPDATE, SKIP = "add", "update", "skip"


@dataclass
class Planned:
    row: Row
    action: str = ADD
    refs: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)


@dataclass
class Context:
    date_format: str | None
    update: bool
    today: date
    customers: dict[str, tuple[int, str]] = field(default_factory=dict)
    credit_open: dict[int, int] = field(default_factory=dict)
    # Partner Center files: the file's digest, the import it repeats, its periods and invoice numbers (a few)
    sha256: str | None = None
    already_imported: str | None = None
    periods: set[date] = field(default_factory=set)
    invoices: set[str] = field(default_factory=set)
    import_id: int | None = None
    stale_months: set[date] = field(default_factory=set)


class RowRefused(Exception):
    """Rows found wrong while writing (the database changed since the check); the whole file rolls back."""

    def __init__(self, errors: RowError | Sequence[RowError]) -> None:
        self.errors = [errors] if isinstance(errors, RowError) else sorted(errors, key=lambda e: e.line)
        super().__init__("; ".join(str(error) for error in self.errors))


def load_customers(session: Session) -> dict[str, tuple[int, str]]:
    """External id -> (id, currency) for every customer (tens of thousands at most)."""
    rows = session.execute(select(Customer.external_id, Customer.id, Customer.currency))
    return {row.external_id: (row.id, row.currency) for row in rows}


class Kind:
    """A kind keyed by one external id; subclasses say the columns, the checks and the attributes written."""

    name: str
    model: type[Any]
    key_column: str
    key_field: str
    updatable = True
    attributes: ClassVar[dict[str, str]] = {}
    """File column -> model attribute, for the columns written as they are."""

    @property
    def lock(self) -> str:
        """The name of the lock an import of this kind holds while it writes."""
        return f"import:{self.name}"

    @property
    def key_attribute(self) -> Any:
        return getattr(self.model, self.key_field)

    def columns(self, context: Context) -> list[Column]:
        raise NotImplementedError

    def file_key(self, row: Row) -> tuple[Any, ...] | None:
        key = row.values.get(self.key_column)
        return None if key is None else (key,)

    def check(self, row: Row, refs: dict[str, Any], context: Context) -> list[str]:
        return []

    def classify(self, session: Session, planned: Sequence[Planned], context: Context) -> None:
        keys = {p.row.values.get(self.key_column) for p in planned} - {None}
        existing = set(session.scalars(select(self.key_attribute).where(self.key_attribute.in_(keys))))
        for p in planned:
            if p.row.values.get(self.key_column) in existing:
                p.action = UPDATE if context.update and self.updatable else SKIP

    def judge(self, session: Session, planned: Sequence[Planned], context: Context) -> None:
        """Checks against what is recorded, once every row is classified."""

    def plan(
        self, session: Session, rows: Sequence[Row], context: Context
    ) -> tuple[list[Planned], list[RowError]]:
        planned = [Planned(row, reasons=list(row.problems)) for row in rows]
        for p in planned:
            p.reasons.extend(self.check(p.row, p.refs, context))
        self.classify(session, planned, context)
        self.judge(session, planned, context)
        errors = [RowError(p.row.line, "; ".join(p.reasons)) for p in planned if p.reasons]
        return [p for p in planned if not p.reasons], errors

    def stated(self, row: Row, refs: dict[str, Any]) -> dict[str, Any]:
        """The attributes this row gives a value for."""
        values = {
            attribute: row.values[column]
            for column, attribute in self.attributes.items()
            if row.values.get(column) is not None
        }
        if "customer_id" in refs:
            values["customer_id"] = refs["customer_id"]
        return values

    def defaults(self, row: Row, refs: dict[str, Any]) -> dict[str, Any]:
        return {}

    def record(self, row: Row, refs: dict[str, Any]) -> dict[str, Any]:
        blank = dict.fromkeys(self.attributes.values())
        return blank | self.defaults(row, refs) | self.stated(row, refs)

    def write(self, session: Session, planned: Sequence[Planned], context: Context) -> None:
        new = [self.record(p.row, p.refs) for p in planned if p.action == ADD]
        if new:
            session.execute(insert(self.model), new)
        for p in planned:
            if p.action == UPDATE:
                session.execute(
                    update(self.model)
                    .where(self.key_attribute == p.row.values[self.key_column])
                    .values(self.stated(p.row, p.refs))
                    .execution_options(synchronize_session=False)
                )

    def _customer(self, row: Row, context: Context, refs: dict[str, Any]) -> list[str]:
        external_id = row.values.get("customer_id")
        if external_id is None:
            return []
        found = context.customers.get(external_id)
        if found is None:
            return [f"customer {external_id!r} is unknown; import customers first"]
        refs["customer_id"], refs["customer_currency"] = found
        return []
