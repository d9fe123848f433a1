"""What a cached read depends on: the tables grouped into subjects, and the read functions by the subjects they read.

A committed transaction sets the version of every subject whose tables it wrote (data_access.db), and the page
cache (ui.cache) keys each call on the versions of the subjects its function reads: a ticket update leaves the
receivables pages warm and a payment leaves the ticket pages warm. A function is declared by its qualified name
or by its module's; one declared nowhere depends on every subject, so nothing it shows is ever stale. A table
that belongs to no subject, or a write whose tables are not known (raw SQL), changes every subject.

The customers table is a subject of its own: tickets, receivables and collections all show customer names, and a
payment (which only locks the customer's row) must not make the ticket pages cold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

CUSTOMERS = "customers"
RECEIVABLES = "receivables"
COLLECTIONS = "collections"
SUSPENSIONS = "suspensions"
TICKETS = "tickets"
POLICIES = "policies"
PAYABLES = "payables"
USERS = "users"
AUDIT = "audit"
RATES = "rates"
RECONCILIATION = "reconciliation"

TABLES: dict[str, frozenset[str]] = {
    CUSTOMERS: frozenset({"customers"}),
    RECEIVABLES: frozenset(
        {"invoices", "payments", "payment_allocations", "credit_notes", "receivables_month_ends"}
    ),
    COLLECTIONS: frozenset(
        {
            "collections_activities",
            "collection_states",
            "collection_stage_changes",
            "collections_runs",
            "outbox_messages",
        }
    ),
    SUSPENSIONS: frozenset({"subscriptions"}),
    # A ticket's e-mail conversation with its attachments, and the messages taken from the support mailbox.
    TICKETS: frozenset({"tickets", "escalations", "ticket_messages", "ticket_attachments", "received_mail"}),
    # The partner's own settings: the collections policy, the support offering (hours, targets, holidays) and the
    # partner profile. They change rarely, and every page that shows one of them names this subject.
    POLICIES: frozenset(
        {
            "collections_policies",
            "policy_stages",
            "support_offerings",
            "support_targets",
            "holidays",
            "partner_profile",
        }
    ),
    PAYABLES: frozenset({"microsoft_invoices"}),
    USERS: frozenset({"login_attempts"}),
    AUDIT: frozenset({"audit_events"}),
    RATES: frozenset({"exchange_rates"}),
    # What Microsoft bills the partner, from Partner Center's reconciliation files.
    RECONCILIATION: frozenset({"partner_center_imports", "partner_center_lines"}),
}
SUBJECTS: frozenset[str] = frozenset(TABLES)
# The versions themselves: writing them is what a commit does, not a change anyone reads.
BOOKKEEPING: frozenset[str] = frozenset({"data_version", "subject_versions"})
SUBJECT_OF: dict[str, str] = {table: subject for subject, tables in TABLES.items() for table in tables}

_LEDGER = frozenset({CUSTOMERS, RECEIVABLES})
_STANDING = frozenset({CUSTOMERS, RECEIVABLES, COLLECTIONS, POLICIES})  # a customer's collections assessment
_SUPPORT = frozenset({CUSTOMERS, TICKETS, POLICIES})  # tickets with their SLA clocks (the support offering)
_NOTHING: frozenset[str] = frozenset()  # a function of its arguments alone (a document made from a statement)

# Qualified function name (module.qualname) or module name -> the subjects it reads. A function's own entry wins
# over its module's, whose entry covers every function of the module (keep it broad). tests/pages/
# test_cache_subjects.py runs the pages and fails when a cached read touches a table outside its subjects.
READS: dict[str, frozenset[str]] = {
    "data_access.queries.aging": _LEDGER,
    "data_access.queries.receivables": _STANDING,
    "data_access.queries.receivables.has_invoices": frozenset({RECEIVABLES}),
    "data_access.queries.receivables.account_managers": frozenset({CUSTOMERS}),
    "data_access.queries.receivables.countries": frozenset({CUSTOMERS}),
    "data_access.queries.receivables.receivables_summary": _LEDGER,
    "data_access.queries.receivables.receivables_by_customer": _LEDGER,
    "data_access.queries.receivables.receivables_largest_overdue_first": _LEDGER | {RATES},
    "data_access.queries.receivables.customer_open_invoices": _LEDGER,
    "data_access.queries.receivables.customer_movements": _LEDGER,
    "data_access.queries.receivables.collections_stage_names": frozenset({POLICIES}),
    "data_access.queries.assessments": _STANDING,
    "data_access.queries.collections_state": _STANDING,
    "data_access.queries.stages": _STANDING,
    "data_access.queries.collections": _STANDING,
    "data_access.queries.collections.worklist": _STANDING | {RATES},
    "data_access.queries.collections.worklist_first_screen": _STANDING | {RATES},
    "data_access.queries.outbox": _STANDING,
    "data_access.mail.reminders": _STANDING,
    "data_access.queries.customers": _STANDING | {SUSPENSIONS, TICKETS},
    "data_access.queries.customers.search_customers": frozenset({CUSTOMERS}),
    "data_access.queries.customers.customer_details": frozenset({CUSTOMERS}),
    "data_access.queries.customers.recent_activity": frozenset({CUSTOMERS, RECEIVABLES, COLLECTIONS}),
    "data_access.queries.invoices": _LEDGER,
    "data_access.queries.payments": _LEDGER,
    "data_access.queries.credit_notes": _LEDGER,
    "data_access.queries.suspensions": _STANDING | {SUSPENSIONS},
    "data_access.queries.suspensions.suspension_history": frozenset({SUSPENSIONS}),
    "data_access.queries.tickets": _SUPPORT,
    "data_access.queries.escalations": _SUPPORT,
    # A reply's delivery state is its outbox message's (outbox_messages is a collections table).
    "data_access.queries.ticket_messages": frozenset({CUSTOMERS, TICKETS, COLLECTIONS}),
    "data_access.queries.escalations.available_vehicles": frozenset({POLICIES}),
    "data_access.queries.overview": _STANDING | {SUSPENSIONS, TICKETS, PAYABLES},
    "data_access.queries.overview.overview": frozenset(
        {CUSTOMERS, RECEIVABLES, SUSPENSIONS, TICKETS, POLICIES, PAYABLES, RATES}
    ),
    "data_access.queries.overview.receivables_trend": _LEDGER,
    "data_access.queries.overview.ticket_volume": frozenset({TICKETS}),
    "data_access.queries.overview.escalations_by_status": frozenset({TICKETS}),
    "data_access.queries.microsoft_payables": _LEDGER | {PAYABLES},
    "data_access.queries.microsoft_payables.microsoft_invoices": frozenset({PAYABLES}),
    "data_access.queries.microsoft_payables.next_microsoft_payment": frozenset({PAYABLES}),
    "data_access.queries.microsoft_payables.cash_cover_every_currency": _LEDGER | {PAYABLES, RATES},
    "data_access.queries.policies": frozenset({POLICIES}),
    "data_access.queries.partner": frozenset({POLICIES}),
    "data_access.queries.time_zone": frozenset({POLICIES}),
    "data_access.queries.audit_log": frozenset({AUDIT, POLICIES}),
    "data_access.queries.exchange_rates": frozenset({RATES}),
    "data_access.queries.margin": frozenset({CUSTOMERS, RECEIVABLES, SUSPENSIONS, RECONCILIATION, RATES}),
    "data_access.queries.margin.reconciliation_invoices": frozenset({RECONCILIATION, PAYABLES}),
    "data_access.documents.statement": _LEDGER | {POLICIES},
    "data_access.documents.statement.statement_pdf": _NOTHING,
    "data_access.documents.statement.statement_csv": _NOTHING,
    "data_access.documents.customer_statements": frozenset({POLICIES}),
}

# Readers of the audit events of one kind of change only, which follow that change's subject instead of every
# action's: the house writes an audit event in the transaction that makes its change, so the subject of the change
# moves with the event. The suspension and reinstatement events are written with the subscription they change
# (queries.suspensions.suspended_at_end_of reads them to tell what was suspended at a date).
READS_EVENTS_OF_THEIR_SUBJECTS: frozenset[str] = frozenset(
    {
        "data_access.queries.suspensions",
        "data_access.queries.customers.customer_status",
        "data_access.queries.overview.overview",
    }
)


def function_name(function: Callable[..., Any]) -> str:
    """The name a function is declared under: its module and qualified name."""
    return f"{function.__module__}.{function.__qualname__}"


def reads_of(function: Callable[..., Any]) -> frozenset[str] | None:
    """The subjects `function` reads, or None when it is declared nowhere (it then depends on every subject)."""
    name = function_name(function)
    return READS[name] if name in READS else READS.get(function.__module__)


def written_subjects(tables: Iterable[str]) -> frozenset[str]:
    """The subjects a transaction that wrote these tables changed; a table of no subject changes them all."""
    written = set(tables) - BOOKKEEPING
    if any(table not in SUBJECT_OF for table in written):
        return SUBJECTS
    return frozenset(SUBJECT_OF[table] for table in written)
