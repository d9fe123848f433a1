"""Engines built lazily from the environment; a read session and a transaction that commits or rolls back.

Several app servers share one database, so what a cache may keep is decided by the database: every committed
transaction bumps the one-row `data_version` table just before it commits, and sets each subject whose tables it
wrote (`data_access.subjects`: receivables, tickets, ...) to that number in `subject_versions`. The app reads both
once per run (`data_version()`) and keys each cached read on the versions of the subjects it reads
(`subjects_version`), so a ticket update leaves the receivables pages warm.

With a read replica (`DATABASE_READ_URL`), queries go to the replica and actions to the primary; a context that
has written (one user's session, carried across runs by the app with `read_floor` / `set_read_floor`) reads from
the primary until the replica has replayed its write, so a user always sees their own action at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Engine,
    String,
    Text,
    TextClause,
    create_engine,
    delete,
    event,
    inspect,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.orm.attributes import get_history

from data_access.checks import control_characters
from data_access.config import settings
from data_access.errors import InvalidAction
from data_access.models import Base, DataVersion, ReceivablesMonthEnd, SubjectVersion
from data_access.subjects import written_subjects

# What a page catches when the database fails it (unreachable, dropped connection, cancelled statement).
DatabaseError = DBAPIError
QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for a statement stopped by statement_timeout

_engines: dict[str, Engine] = {}
_write_engines: dict[str, Engine] = {}
WRITE = "billing_desk_write"  # execution option: this connection's transactions take the write lock at BEGIN
# The newest data version this context has written or must see; reads go to the primary while the replica lags it.
_read_floor: ContextVar[int] = ContextVar("billing_desk_read_floor", default=0)
_primary_reads: ContextVar[bool] = ContextVar("billing_desk_primary_reads", default=False)
# The data version read at the start of this run (None: not read yet in this context).
_run_version: ContextVar[int | None] = ContextVar("billing_desk_run_version", default=None)
# Each subject's version as this run sees it: read with the data version, moved up by what this run has written.
_run_subjects: ContextVar[Mapping[str, int] | None] = ContextVar("billing_desk_run_subjects", default=None)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
    # BEGIN is ours to say (see _sqlite_begin): pysqlite would otherwise open a transaction only at the first
    # INSERT/UPDATE, so the reads before it ran outside any transaction and a balance could be written from them.
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection: Any) -> None:
    """A write transaction takes SQLite's write lock when it begins, so whatever it reads stays true until it
    commits; a read transaction is a consistent snapshot that never blocks a writer (WAL)."""
    connection.exec_driver_sql(
        "BEGIN IMMEDIATE" if connection.get_execution_options().get(WRITE) else "BEGIN"
    )


class DatabaseRefused(InvalidAction):
    """The database refused a value or a duplicate in one request; the request is refused, nothing was written."""


def engine_for(url: str) -> Engine:
    """One engine per URL for the life of the process; SQLite gets foreign keys and WAL on every connection.

    PostgreSQL connections are checked before use (a restarted server costs one failed ping, not an error page),
    give up connecting after 5 s, and cancel any statement running longer than BILLING_DESK_STATEMENT_TIMEOUT
    seconds (default 60), so one slow query cannot hold a connection, and a user, for ever."""
    if url not in _engines:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 10})
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin)
        else:
            timeout_ms = settings().statement_timeout_seconds * 1000
            engine = create_engine(
                url,
                pool_pre_ping=True,
                pool_size=10,
                max_overflow=20,
                pool_timeout=10,
                connect_args={"connect_timeout": 5, "options": f"-c statement_timeout={timeout_ms}"},
            )
        _engines[url] = engine
    return _engines[url]


def get_engine() -> Engine:
    return engine_for(settings().database_url)


def get_write_engine() -> Engine:
    """The primary, with transactions that serialise with every other writer from their first statement."""
    url = settings().database_url
    engine = engine_for(url)
    if _write_engines.get(url) is None or _write_engines[url].pool is not engine.pool:
        _write_engines[url] = engine.execution_options(**{WRITE: True})
    return _write_engines[url]


def _replica_url() -> str | None:
    return settings().database_read_url


def get_read_engine() -> Engine:
    """The replica when one is configured and it has what this context must see; else the primary."""
    read_url = _replica_url()
    if read_url and not _primary_reads.get():
        return engine_for(read_url)
    return get_engine()


def dispose_engines() -> None:
    """Forget every engine (tests point DATABASE_URL elsewhere between cases)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
    _write_engines.clear()


_GLOBAL = ""  # stands for the data_version row among the subjects' rows (no subject has an empty name)


def _versions_on(engine: Engine) -> tuple[int, dict[str, int]]:
    """The data version and every subject's, in one statement (one snapshot)."""
    with Session(engine) as session:
        rows = session.execute(
            select(literal(_GLOBAL).label("subject"), DataVersion.version)
            .where(DataVersion.id == 1)
            .union_all(select(SubjectVersion.subject, SubjectVersion.version))
        ).all()
    versions = {str(subject): int(version) for subject, version in rows}
    return versions.pop(_GLOBAL, 0), versions


def data_version() -> int:
    """The data version this context's reads will see, read now with every subject's version: the replica's when
    it has replayed this context's own writes, else the primary's (and reads go to the primary until it has).
    Call once per run."""
    floor = _read_floor.get()
    read_url = _replica_url()
    found: tuple[int, dict[str, int]] | None = None
    if read_url:
        on_replica = _versions_on(engine_for(read_url))
        if on_replica[0] >= floor:
            found = on_replica
    _primary_reads.set(found is None and read_url is not None)
    if found is None:
        found = _versions_on(get_engine())
    version, subjects = found
    _run_version.set(version)
    _run_subjects.set(subjects)
    return version


def cache_version() -> int:
    """The version cache keys use: the one read at the start of this run, or newer if this run has written."""
    run_version = _run_version.get()
    if run_version is None:
        run_version = data_version()
    return max(run_version, _read_floor.get())


def subjects_version(subjects: Iterable[str]) -> int:
    """The version cache keys of a read of these subjects use: the newest at which any of them changed, as this
    run sees it (read at its start, moved up by what this run has written since). A subject that has never
    changed is at 0. Any change to one of them gives a larger number (versions only go up), so this one number
    moves exactly when what the read shows may have."""
    versions = _run_subjects.get()
    if versions is None:
        data_version()
        versions = _run_subjects.get() or {}
    return max((versions.get(subject, 0) for subject in subjects), default=0)


def read_floor() -> int:
    """The newest version this context wrote or was told to see (the app keeps it in the user's session)."""
    return _read_floor.get()


def set_read_floor(version: int) -> None:
    """Start a run for a user who has written up to `version`: their reads must include it."""
    _read_floor.set(version)
    _run_version.set(None)
    _run_subjects.set(None)
    _primary_reads.set(False)


def query_cancelled(error: DBAPIError) -> bool:
    """True when the statement ran past BILLING_DESK_STATEMENT_TIMEOUT and the server stopped it."""
    return getattr(error.orig, "sqlstate", None) == QUERY_CANCELED


def refusal(error: DBAPIError) -> DatabaseRefused | None:
    """The sentence for an error that one request caused (a bad value, a duplicate, a number too large), or None
    when the database itself is in trouble (unreachable, dropped connection, cancelled statement)."""
    reason = str(getattr(error, "orig", error)).strip().splitlines()[0] if str(error).strip() else "unknown"
    if isinstance(error, IntegrityError):
        return DatabaseRefused(
            "This change conflicts with what is already recorded (perhaps saved by someone else a moment ago), "
            f"so nothing was saved. Reload and check. The database said: {reason}."
        )
    overflow = "integer overflow" in reason.lower() or "out of range" in reason.lower()
    if isinstance(error, DataError) or overflow:
        return DatabaseRefused(
            f"The database refused a value in this request (too large, or a character it cannot store), "
            f"so nothing was saved. The database said: {reason}."
        )
    return None


def ping() -> bool:
    """True when the primary (and the replica, if any) answer a trivial query."""
    replica = _replica_url()
    urls = [settings().database_url] + ([replica] if replica else [])
    try:
        for url in urls:
            with engine_for(url).connect() as connection:
                connection.exec_driver_sql("SELECT 1")
    except DBAPIError:
        return False
    return True


def analyze(*tables: str) -> None:
    """Refresh the query planner's statistics after a bulk change (an import, demo data, an upgrade), of the
    named tables only when given. SQLite keeps none until told: without them it reads today's aging through the
    index on issue dates (every invoice) instead of the partial index on open invoices, 20x slower at 1M
    invoices. PostgreSQL's autovacuum would get there in time, unless it is switched off."""
    known = Base.metadata.tables
    with get_engine().connect() as connection:
        for table in tables or ("",):
            if table and table not in known:
                raise ValueError(f"no table {table!r} to analyze")
            connection.exec_driver_sql(f"ANALYZE {table}".strip())
        connection.commit()


def _bump_version(session: Session) -> int:
    bumped = session.execute(
        update(DataVersion).where(DataVersion.id == 1).values(version=DataVersion.version + 1)
        .returning(DataVersion.version)
    ).scalar_one_or_none()  # fmt: skip
    if bumped is None:  # a database made before the table had its row
        session.add(DataVersion(id=1, version=1))
        session.flush()
        bumped = 1
    return int(bumped)


_WRITTEN = "billing_desk_written_tables"
_UNKNOWN_TABLE = "*"  # a write whose tables cannot be told (raw SQL): it changes every subject
_LEADING = r"^(?:\s+|--[^\n]*|/\*.*?\*/)*"  # blanks and comments before a statement's first word
_READS_ONLY = re.compile(
    _LEADING + r"(?:select|values|show|set|explain|pragma|analyze)\b", re.IGNORECASE | re.DOTALL
)
_COMMON_TABLE = re.compile(_LEADING + r"with\b", re.IGNORECASE | re.DOTALL)
_WRITING_WORD = re.compile(r"\b(?:insert|update|delete|merge)\b", re.IGNORECASE)


def _raw_sql_writes(sql: str) -> bool:
    """Whether raw SQL may change rows: anything but a query (SELECT ... FOR UPDATE and SET LOCAL included) is
    taken to, and a WITH query that names a writing statement."""
    if _READS_ONLY.match(sql):
        return False
    return not _COMMON_TABLE.match(sql) or _WRITING_WORD.search(sql) is not None


def _written(session: Session) -> set[str]:
    tables: set[str] = session.info.setdefault(_WRITTEN, set())
    return tables


# The stored month ends (ReceivablesMonthEnd) a write makes untrue: each ledger table's date from which a row changes
# what was open, and the columns whose change alone moves nothing on any date (the open balance moves with the
# allocation or credit note that carries the date; a credit note's reversal is a line of its own).
_LEDGER_DATE = {"invoices": "issue_date", "payment_allocations": "applied_on", "credit_notes": "issued_on"}
_DATELESS = {
    "invoices": frozenset({"open_cents", "disputed"}),
    "payment_allocations": frozenset[str](),
    "credit_notes": frozenset({"reversed_on", "reversed_by"}),
}
_LEDGER_FROM = "billing_desk_ledger_changed_from"


def _ledger_changed_from(session: Session, day: date) -> None:
    """This transaction changes what was open at every date from `day` on (date.min: from any date)."""
    known = session.info.get(_LEDGER_FROM)
    session.info[_LEDGER_FROM] = day if known is None else min(known, day)


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.min


def _flushed_ledger_dates(session: Session, instance: object, table: str, *, changed: bool) -> None:
    column = _LEDGER_DATE[table]
    if not changed:
        _ledger_changed_from(session, _as_date(getattr(instance, column, None)))
        return
    state = inspect(instance)
    moved = {attr.key for attr in state.attrs if attr.history.has_changes()}
    if moved <= _DATELESS[table]:
        return
    history = state.attrs[column].history
    days = [*history.added, *history.unchanged, *history.deleted]
    _ledger_changed_from(session, min((_as_date(d) for d in days), default=date.min))


def _statement_ledger_dates(state: ORMExecuteState, table: str) -> None:
    """A bulk INSERT dates its rows; an UPDATE or DELETE of other than dateless columns may touch any date."""
    statement: Any = state.statement
    if state.is_insert:
        rows = state.parameters
        listed = rows if isinstance(rows, list) else [rows] if isinstance(rows, dict) else []
        days = [_as_date(row.get(_LEDGER_DATE[table])) for row in listed if isinstance(row, dict)]
        _ledger_changed_from(state.session, min(days) if days else date.min)
        return
    if state.is_update:
        values = getattr(statement, "_values", None) or {}
        keys = {getattr(key, "key", key) for key in values}
        if keys and keys <= _DATELESS[table]:
            return
    _ledger_changed_from(state.session, date.min)


@event.listens_for(Session, "after_flush")
def _remember_flushed_tables(session: Session, _flush: UOWTransaction) -> None:
    """The tables of the objects this flush inserted, changed or deleted (and, for the ledger's, their dates)."""
    changed = [i for i in session.dirty if session.is_modified(i, include_collections=False)]
    for instance in [*session.new, *session.deleted, *changed]:
        tables = [table.name for table in inspect(instance).mapper.tables]
        _written(session).update(tables)
        for table in tables:
            if table in _LEDGER_DATE:
                _flushed_ledger_dates(session, instance, table, changed=instance in changed)


@event.listens_for(Session, "do_orm_execute")
def _remember_statement_tables(state: ORMExecuteState) -> None:
    """The table an INSERT, UPDATE or DELETE statement writes (ORM or core, a bulk insert or an upsert alike);
    raw SQL that may write is taken to write every table. Statements sent on the session's connection itself
    (session.connection().execute) are not seen: writes go through the session."""
    statement = state.statement
    if state.is_insert or state.is_update or state.is_delete:
        name = getattr(getattr(statement, "table", None), "name", None)
        _written(state.session).add(name if isinstance(name, str) else _UNKNOWN_TABLE)
        if not isinstance(name, str):
            _ledger_changed_from(state.session, date.min)
        elif name in _LEDGER_DATE:
            _statement_ledger_dates(state, name)
    elif isinstance(statement, TextClause) and _raw_sql_writes(statement.text):
        _written(state.session).add(_UNKNOWN_TABLE)
        _ledger_changed_from(state.session, date.min)


def _mark_subjects(session: Session, version: int) -> frozenset[str]:
    """Set the version of every subject this transaction wrote to `version`, in one statement (an upsert: a
    subject's row is made the first time it changes)."""
    subjects = written_subjects(session.info.get(_WRITTEN, ()))
    if subjects:
        insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        rows = insert(SubjectVersion).values([{"subject": s, "version": version} for s in sorted(subjects)])
        session.execute(
            rows.on_conflict_do_update(index_elements=[SubjectVersion.subject], set_={"version": version})
        )
    return subjects


def _bump_versions(session: Session) -> tuple[int, frozenset[str]]:
    """The data version bumped, the subjects this transaction wrote set to it, and the stored month ends its
    ledger writes made untrue deleted: after the bump, whose row lock a reader storing month ends takes first
    (month_ends.keep), so this delete sees every row stored before this transaction's version."""
    session.flush()  # what is still pending is written now, so its tables are known
    version = _bump_version(session)
    subjects = _mark_subjects(session, version)
    _forget_month_ends(session)
    return version, subjects


def _forget_month_ends(session: Session) -> None:
    changed_from = session.info.pop(_LEDGER_FROM, None)
    if changed_from is not None:
        session.execute(delete(ReceivablesMonthEnd).where(ReceivablesMonthEnd.month_end >= changed_from))


_CHANGES_READS = "billing_desk_changes_reads"


def changes_reads(session: Session) -> None:
    """In a transaction opened with versioned=False: this one changes what cached readers show after all (it
    records an audit event, say), so it bumps the data version like any other."""
    session.info[_CHANGES_READS] = True


@contextmanager
def transaction(*, versioned: bool = True) -> Iterator[Session]:
    """One unit of work on the primary: commits when the block ends, rolls back if it raises.

    It serialises with every other write: SQLite takes the write lock at BEGIN; on PostgreSQL each balance change
    locks the rows it reads (or changes the stored value relative to itself). A value or duplicate the database
    refuses becomes DatabaseRefused, a sentence for the user, not an outage.

    The data version is bumped as the last statement before the commit (its row lock is held only for the
    commit itself), the subjects whose tables the transaction wrote are set to it, and this context's reads from
    then on must include it. versioned=False is for bookkeeping that no cached reader shows (the sign-in
    counters): bumping the version for it would make every cached page of every user cold on each sign-in. Such a transaction that turns out to change what readers show (it
    records an audit event) calls changes_reads(session) and bumps it after all."""
    with Session(get_write_engine(), expire_on_commit=False) as session:
        try:
            with session.begin():
                yield session
                bump = versioned or session.info.get(_CHANGES_READS, False)
                version, subjects = _bump_versions(session) if bump else (None, frozenset[str]())
                if not bump:
                    session.flush()
                    _forget_month_ends(session)
        except DBAPIError as error:
            refused = refusal(error)
            if refused is None:
                raise
            raise refused from error
        if version is None:
            return
        _read_floor.set(max(_read_floor.get(), version))
        seen = _run_subjects.get()
        if seen is not None:
            _run_subjects.set({**seen, **{subject: version for subject in subjects}})
        if _replica_url():
            _primary_reads.set(True)


@event.listens_for(Session, "before_flush")
def _refuse_control_characters(session: Session, _context: Any, _instances: Any) -> None:
    """No text a person or a file gave us is stored with control characters (NUL, escape, bidi overrides...),
    whichever form or command it came through; multi-line text (Text columns) may keep tabs and line breaks."""
    for instance in session.new | session.dirty:
        mapper = inspect(instance).mapper
        for column in mapper.columns:
            if not isinstance(column.type, String) or column.key not in mapper.attrs:
                continue
            for value in get_history(instance, column.key).added:
                if isinstance(value, str) and (
                    bad := control_characters(value, multiline=isinstance(column.type, Text))
                ):
                    label = column.key.replace("_", " ")
                    raise InvalidAction(
                        f"The {label} contains control characters ({', '.join(bad)}); remove them and try again."
                    )


def hold_lock(session: Session, name: str) -> None:
    """Hold a named lock until this transaction ends (an import of one kind, the collections run): a second
    holder waits for the first to commit and then sees what it wrote. On SQLite the write transaction already
    holds the whole database."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": f"billing_desk:{name}"}
        )


@contextmanager
def read_session() -> Iterator[Session]:
    """A session for queries only (on the read replica when one is configured and up to date for this context)."""
    with Session(get_read_engine()) as session:
        yield session
