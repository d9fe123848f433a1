"""CSV import, all-or-nothing per file: every row is checked first (a streaming pass), then written in chunks
inside one transaction; any bad row rejects the file with its line number and every reason, and nothing is
written.

The write holds a lock for its kind (the money kinds share one) from its first statement, and plans each chunk
again under it, so two imports of one file at the same moment serialise: the second finds the first's rows and
adds nothing, and its report counts what it really added, updated and skipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from data_access import clock
from data_access.actions import collections_run
from data_access.audit import DataImported, record_event
from data_access.csv_import.kinds import (
    ADD,
    KINDS,
    SKIP,
    UPDATE,
    Context,
    Planned,
    RowRefused,
    load_customers,
)
from data_access.csv_import.partner_center import PartnerCenterFile
from data_access.csv_import.reader import FileProblem, RowError, Source, chunks, header_of
from data_access.db import analyze, hold_lock, read_session, refusal, transaction
from data_access.errors import InvalidAction
from data_access.models import PartnerCenterImport
from data_access.permissions import Actor, requires

Progress = Callable[[str, int], None]
BULK_ROWS = 1000
REASSESSING = frozenset({"customers", "invoices", "payments", "credit-notes"})
"""The kinds whose rows can change a customer's collections assessment: an import of one refreshes the customers
it touched (everybody, in one pass, when it touched more than collections_run.BATCH)."""
"""An import that writes at least this many rows refreshes the planner's statistics; smaller ones leave them be
(ANALYZE reads the whole database, which takes longer than a small import itself)."""


@dataclass
class ImportReport:
    kind: str
    rows: int = 0
    added: int = 0
    updated: int = 0
    skipped: int = 0
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        verb = "would be" if self.dry_run else "were"
        return (
            f"{self.kind}: {self.rows} rows; {self.added} {verb} added, {self.updated} {verb} updated, "
            f"{self.skipped} {verb} skipped (already there)."
        )

    def count(self, planned: Sequence[Planned]) -> None:
        self.added += sum(p.action == ADD for p in planned)
        self.updated += sum(p.action == UPDATE for p in planned)
        self.skipped += sum(p.action == SKIP for p in planned)


def _check(
    kind_name: str, source: Source, context: Context, report: ImportReport, progress: Progress
) -> None:
    kind = KINDS[kind_name]
    seen: dict[tuple[object, ...], int] = {}
    with read_session() as session:
        context.customers = load_customers(session)
        for chunk in chunks(source, kind.columns(context)):
            report.errors.extend(chunk.errors)
            for row in chunk.rows:
                key = kind.file_key(row)
                if key is not None and key in seen:
                    row.problems.append(f"duplicate of line {seen[key]} in this file")
                elif key is not None and not row.problems:
                    seen[key] = row.line
            planned, errors = kind.plan(session, chunk.rows, context)
            report.errors.extend(errors)
            report.rows += len(chunk.rows) + len(chunk.errors)
            report.count(planned)
            progress("checking", report.rows)
    report.errors.sort(key=lambda error: error.line)


def _write(kind_name: str, source: Source, context: Context, report: ImportReport, actor: Actor,
           progress: Progress, file_name: str) -> None:  # fmt: skip
    kind = KINDS[kind_name]
    context.credit_open = {}
    report.added = report.updated = report.skipped = 0
    done = 0
    touched: set[int] = set()
    with transaction() as session:
        hold_lock(session, kind.lock)
        context.customers = load_customers(session)
        if isinstance(kind, PartnerCenterFile):
            context.already_imported = _imported_before(session, kind, context)
            replaced = kind.begin(session, context, file_name, actor.username)
            if replaced:
                report.warnings.append(
                    f"{replaced} line(s) imported before were replaced: the unbilled lines of this file's "
                    "months and the lines of its invoice numbers."
                )
        for chunk in chunks(source, kind.columns(context)):
            planned, errors = kind.plan(session, chunk.rows, context)
            if errors or chunk.errors:
                raise RowRefused([*chunk.errors, *errors])
            if kind_name in REASSESSING:  # customers before their invoices, as a payment locks them
                collections_run.lock_customers(session, _touched(planned, context))
            try:
                kind.write(session, planned, context)
                session.flush()
            except DBAPIError as error:
                refused = refusal(error)
                if refused is None or not chunk.rows:
                    raise
                first, last = chunk.rows[0].line, chunk.rows[-1].line
                raise RowRefused(RowError(first, f"{refused} (a row on lines {first} to {last})")) from error
            report.count(planned)
            touched |= _touched(planned, context)
            done += len(chunk.rows)
            progress("importing", done)
        if isinstance(kind, PartnerCenterFile):
            kind.finish(session, context, report.added)
        if kind_name in REASSESSING:
            many = len(touched) > collections_run.BATCH
            collections_run.refresh(session, None if many else touched, as_of=clock.today(), because="import")
        imported = DataImported(
            file=file_name,
            rows=report.rows,
            added=report.added,
            updated=report.updated,
            skipped=report.skipped,
        )
        record_event(session, actor, imported, target=f"import:{kind_name}")


def _digest(source: Source) -> str:
    digest = hashlib.sha256()
    if isinstance(source, bytes):
        digest.update(source)
    else:
        with source.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _imported_before(session: Session, kind: PartnerCenterFile, context: Context) -> str | None:
    """'name on YYYY-MM-DD' when this very file (by SHA-256) was imported before."""
    found = session.execute(
        select(PartnerCenterImport.file_name, PartnerCenterImport.imported_at).where(
            PartnerCenterImport.source == kind.source, PartnerCenterImport.sha256 == context.sha256
        )
    ).first()
    return None if found is None else f"{found.file_name} on {found.imported_at.date().isoformat()}"


def _touched(planned: Sequence[Planned], context: Context) -> set[int]:
    """The customers (pks) whose rows a written chunk added to or changed: its own, and an invoice's old one."""
    found: set[int] = set()
    for p in planned:
        if p.action == SKIP:
            continue
        current = p.refs.get("current")
        known = context.customers.get(p.row.values.get("customer_id") or "")
        candidates = (p.refs.get("customer_id"), getattr(current, "customer_id", None), known and known[0])
        found.update(c for c in candidates if isinstance(c, int))
    return found


@requires("data.import")
def import_csv(
    actor: Actor,
    kind: str,
    source: Source,
    *,
    dry_run: bool = False,
    date_format: str | None = None,
    update: bool = False,
    progress: Progress | None = None,
    file_name: str | None = None,
) -> ImportReport:
    """Check every row, then (unless a dry run, and only if nothing is wrong) write them all in one transaction;
    the counts reported are those of the write, judged under the import's lock. The audit event names the file:
    `file_name` (an upload's own name), else a path's name, else "upload"."""
    name = (file_name or "").strip() or (source.name if isinstance(source, Path) else "upload")
    if kind not in KINDS:
        raise InvalidAction(f"{kind!r} is not an import kind; use one of: {', '.join(KINDS)}.")
    report = ImportReport(kind=kind, dry_run=dry_run)
    context = Context(date_format=date_format, update=update, today=clock.today())
    step = progress or (lambda _phase, _rows: None)
    try:
        _, report.warnings = header_of(source, KINDS[kind].columns(context))
        pc_kind = KINDS[kind]
        if isinstance(pc_kind, PartnerCenterFile):
            context.sha256 = _digest(source)
            with read_session() as session:
                context.already_imported = _imported_before(session, pc_kind, context)
            if context.already_imported:
                report.warnings.append(
                    f"This file was imported before ({context.already_imported}); nothing is added again."
                )
        _check(kind, source, context, report, step)
        if context.stale_months:
            months = ", ".join(sorted(m.strftime("%Y-%m") for m in context.stale_months))
            report.warnings.append(
                f"Unbilled lines of {months} were skipped: a billed file of that month is imported already, and "
                "it holds the month's charges."
            )
        if report.ok and not dry_run:
            _write(kind, source, context, report, actor, step, name)
            if report.added + report.updated >= BULK_ROWS:
                analyze()  # after the commit: the planner must know about what was just written
    except FileProblem as exc:
        report.errors = [RowError(exc.line, str(exc))]
    except RowRefused as exc:
        report.errors = exc.errors
        report.added = report.updated = report.skipped = 0
    return report


KIND_NAMES = tuple(KINDS)
