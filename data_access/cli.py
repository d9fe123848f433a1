"""`python -m data_access ...`: parse the command line, call one function, turn domain errors into one line."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NoReturn

from sqlalchemy.exc import OperationalError

from data_access import clock
from data_access.config import settings
from data_access.csv_import.kinds import KINDS
from data_access.documents.exports import FORMATS, render, to_json
from data_access.documents.settings_files import SettingsFileRefused
from data_access.errors import InvalidAction
from data_access.permissions import GLOBAL_ADMIN, ROLES, Actor, PermissionDenied
from data_access.queries import aging
from data_access.rules import buckets

IMPORT_KINDS = tuple(KINDS)


class _Parser(argparse.ArgumentParser):
    """Bad input gets one line on stderr and exit code 2, never a usage dump or a traceback."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(2999, 12, 31)
"""The days a command takes: far wider than any ledger, and clear of the calendar's ends (year 1 and 9999), where
a day before or after, or a week's or month's start, cannot be counted."""


def _date(text: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD, e.g. 2026-11-24") from None
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise argparse.ArgumentTypeError(
            f"{text} is outside the days Billing Desk counts ({EARLIEST_DAY} to {LATEST_DAY})"
        )
    return day


def _buckets(text: str) -> tuple[int, ...]:
    try:
        return buckets.parse_buckets(text)
    except InvalidAction as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _currency(text: str) -> str:
    if len(text) != 3 or not text.isalpha():
        raise argparse.ArgumentTypeError(f"{text!r} is not a currency code; use three letters, e.g. USD")
    return text.upper()


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m data_access", description="Billing Desk's data tools.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    commands.add_parser("init", help="create the schema, or upgrade it to the newest version")

    seed = commands.add_parser("seed", help="fill an empty database with deterministic demo data")
    seed.add_argument("--demo", action="store_true", required=True, help="demo data (the only kind there is)")
    seed.add_argument("--customers", type=_positive, default=300, help="number of customers (default 300)")
    seed.add_argument("--seed", type=int, default=42, help="random seed; the same seed gives the same data")
    seed.add_argument(
        "--today", type=_date, default=None, help="date the data is relative to (default today)"
    )
    seed.add_argument("--if-empty", action="store_true", help="do nothing when the database holds customers")

    report = commands.add_parser("report", help="print a report as a table, csv or json")
    reports = report.add_subparsers(dest="report", required=True, parser_class=_Parser)
    aging_report = reports.add_parser("aging", help="receivables aging")
    aging_report.add_argument("--as-of", type=_date, default=None, help="date to age at (default today)")
    aging_report.add_argument(
        "--basis", choices=aging.BASES, default="due", help="age from due or issue date"
    )
    aging_report.add_argument(
        "--buckets",
        type=_buckets,
        default=buckets.DEFAULT_BUCKETS,
        help="bucket edges in days (30,60,90,120)",
    )
    aging_report.add_argument("--by", choices=("customer",), default=None, help="one row per customer")
    aging_report.add_argument("--currency", type=_currency, default=None, help="only this currency")
    aging_report.add_argument("--account-manager", default=None, help="only this account manager's customers")
    aging_report.add_argument("--country", default=None, help="only customers in this country (ISO code)")
    aging_report.add_argument("--format", choices=FORMATS, default="table")

    importing = commands.add_parser("import", help="import a CSV file (all or nothing)")
    importing.add_argument("kind", choices=IMPORT_KINDS, help="what the file holds")
    importing.add_argument("file", type=Path, help="the CSV file (UTF-8, with or without BOM)")
    importing.add_argument("--dry-run", action="store_true", help="check every row and report; write nothing")
    importing.add_argument("--date-format", default=None, help="strptime format of dates, e.g. %%m/%%d/%%Y")
    importing.add_argument(
        "--update", action="store_true", help="update rows whose key exists (default: skip)"
    )

    overview_report = reports.add_parser("overview", help="the overview page's headline figures")
    overview_report.add_argument(
        "--as-of", type=_date, default=None, help="date of the figures (default today)"
    )
    overview_report.add_argument(
        "--currency",
        type=_currency,
        default=None,
        help="currency of the money figures (default: the one most open invoices are in)",
    )
    overview_report.add_argument("--format", choices=FORMATS, default="table")

    tickets_report = reports.add_parser("tickets", help="ticket volumes, SLA attainment and median times")
    tickets_report.add_argument(
        "--from", dest="start", type=_date, required=True, help="first day (YYYY-MM-DD)"
    )
    tickets_report.add_argument("--to", dest="end", type=_date, required=True, help="last day (YYYY-MM-DD)")
    tickets_report.add_argument(
        "--by",
        choices=("day", "week", "month", "category", "severity", "channel"),
        default=None,
        help="period or grouping (default week)",
    )
    tickets_report.add_argument(
        "--detail",
        action="store_true",
        help="one row per ticket created in the range, with its SLA due times and states",
    )
    tickets_report.add_argument("--format", choices=FORMATS, default="table")

    collections_report = reports.add_parser(
        "collections", help="where each overdue customer stands under the collections policy"
    )
    collections_report.add_argument("--as-of", type=_date, default=None, help="date (default today)")
    collections_report.add_argument("--stage", default=None, help="only customers in this stage (its name)")
    collections_report.add_argument("--format", choices=FORMATS, default="table")

    margin_report = reports.add_parser(
        "margin", help="what Microsoft bills (Partner Center files) against what customers are invoiced"
    )
    margin_report.add_argument(
        "--from", dest="start", type=_date, required=True, help="first day (YYYY-MM-DD)"
    )
    margin_report.add_argument("--to", dest="end", type=_date, required=True, help="last day (YYYY-MM-DD)")
    margin_report.add_argument(
        "--by",
        choices=("customer", "month"),
        default=None,
        help="sum the months (customer) or the customers (month); default: a row per customer, month and currency",
    )
    margin_report.add_argument("--currency", type=_currency, default=None, help="only this currency")
    margin_report.add_argument("--format", choices=FORMATS, default="table")

    statement_report = reports.add_parser("statement", help="a customer's statement of account")
    statement_report.add_argument("--customer", required=True, help="the customer's id (customer_id)")
    statement_report.add_argument(
        "--from", dest="start", type=_date, required=True, help="first day (YYYY-MM-DD)"
    )
    statement_report.add_argument("--to", dest="end", type=_date, required=True, help="last day (YYYY-MM-DD)")
    statement_report.add_argument("--format", choices=FORMATS, default="table")

    user_commands = commands.add_parser("users", help="list and change users and roles (auth.yaml)")
    user_actions = user_commands.add_subparsers(dest="action", required=True, parser_class=_Parser)
    listing = user_actions.add_parser("list", help="every user, roles, status and lockouts")
    listing.add_argument("--format", choices=FORMATS, default="table")
    add = user_actions.add_parser("add", help="add a user; prints a temporary password once")
    add.add_argument("username")
    add.add_argument("--name", required=True, help="full name")
    add.add_argument("--email", default="", help="e-mail address")
    for parser_with_roles in (add, user_actions.add_parser("set-roles", help="replace a user's roles")):
        if parser_with_roles is not add:
            parser_with_roles.add_argument("username")
        parser_with_roles.add_argument(
            "--role", action="append", required=True, choices=ROLES, help='repeat: --role "Billing admin"'
        )
    for action, text in (
        ("disable", "stop a user signing in (signed out at their next interaction)"),
        ("enable", "let a disabled user sign in again"),
        ("reset-password", "give a user a new temporary password (printed once)"),
        ("unlock", "lift a lockout after failed sign-ins"),
    ):
        user_actions.add_parser(action, help=text).add_argument("username")
    collections = commands.add_parser("collections", help="the daily collections run")
    collections_actions = collections.add_subparsers(dest="action", required=True, parser_class=_Parser)
    collections_run = collections_actions.add_parser(
        "run", help="reassess every overdue customer and store their state; with --send, e-mail what is due"
    )
    collections_run.add_argument("--as-of", type=_date, default=None, help="day to assess (default today)")
    collections_run.add_argument(
        "--send", action="store_true", help="queue the reminders due and deliver the outbox (default neither)"
    )
    _money_commands(commands)
    mail = commands.add_parser("mail", help="the support mailbox and the outbox")
    mail_actions = mail.add_subparsers(dest="action", required=True, parser_class=_Parser)
    fetch = mail_actions.add_parser("fetch", help="make the mailbox's unread e-mail tickets and replies")
    send = mail_actions.add_parser("send", help="deliver the outbox's e-mail that is due (replies, retries)")
    for mail_command in (fetch, send):
        mail_command.add_argument("--limit", type=_positive, default=None, help="at most this many messages")
    _settings_commands(commands)
    return parser


def _settings_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    for name, what in (("offering", "the support offering"), ("policy", "the collections policy")):
        command = commands.add_parser(name, help=f"show {what}, or set it from a JSON file")
        actions = command.add_subparsers(dest="action", required=True, parser_class=_Parser)
        show = actions.add_parser("show", help=f"print {what} (--format json: the file `{name} set` takes)")
        show.add_argument(
            "--format", choices=("table", "json"), default="table", help="readable tables (default) or json"
        )
        setting = actions.add_parser(
            "set",
            help=f"replace {what} with a JSON file's (checked as the Policies page checks; all or nothing)",
        )
        setting.add_argument("file", type=Path, help="the JSON file, as `show --format json` prints it")


def _money_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    payments = commands.add_parser("payments", help="list a customer's payments; reverse one")
    payment_actions = payments.add_subparsers(dest="action", required=True, parser_class=_Parser)
    listing = payment_actions.add_parser("list", help="a customer's payments, newest first, with their ids")
    listing.add_argument("--customer", required=True, help="the customer's id")
    listing.add_argument("--format", choices=FORMATS, default="table")
    reverse = payment_actions.add_parser(
        "reverse", help="undo a payment (returned by the bank, recorded by mistake): its invoices re-open"
    )
    reverse.add_argument("payment_id", type=_positive, help="the payment's id (see `payments list`)")
    reverse.add_argument("--reason", required=True, help="why, e.g. 'returned by the bank'")
    reverse.add_argument(
        "--on", type=_date, default=None, help="date the reversal counts from (default today)"
    )

    notes = commands.add_parser("credit-notes", help="list a customer's credit notes; reverse one")
    note_actions = notes.add_subparsers(dest="action", required=True, parser_class=_Parser)
    listing = note_actions.add_parser("list", help="a customer's credit notes, newest first")
    listing.add_argument("--customer", required=True, help="the customer's id")
    listing.add_argument("--format", choices=FORMATS, default="table")
    reverse = note_actions.add_parser(
        "reverse", help="undo a credit note with a reversing line; the invoice re-opens"
    )
    reverse.add_argument("number", help="the credit note's number")
    reverse.add_argument("--reason", required=True, help="why it is reversed")
    reverse.add_argument(
        "--on", type=_date, default=None, help="date the reversal counts from (default today)"
    )

    credit = commands.add_parser("credit", help="apply a customer's unapplied credit to open invoices")
    credit_actions = credit.add_subparsers(dest="action", required=True, parser_class=_Parser)
    apply = credit_actions.add_parser("apply", help="oldest open invoices first, or the invoices named")
    apply.add_argument("customer", help="the customer's id")
    apply.add_argument(
        "--invoice", action="append", default=[], help="an invoice to apply it to (repeat, in order)"
    )


def _init() -> str:
    from data_access.db import analyze
    from data_access.migrate import upgrade

    upgrade(settings().database_url)
    analyze()
    return "Schema is up to date.\n"


def _seed(args: argparse.Namespace) -> str:
    from data_access import demo

    if args.if_empty and not demo.database_is_empty():
        return "Database already holds data; demo data not added.\n"
    counts = demo.seed_demo(
        customers=args.customers,
        seed=args.seed,
        today=args.today,
        progress=lambda step: print(step, file=sys.stderr),
    )
    return "Demo data added: " + ", ".join(f"{count} {table}" for table, count in counts.items()) + ".\n"


def _report_aging(args: argparse.Namespace) -> str:
    flt = aging.AgingFilter(
        as_of=args.as_of or clock.today(),
        basis=args.basis,
        buckets=args.buckets,
        currency=args.currency,
        account_manager=args.account_manager,
        country=args.country,
    )
    frame = aging.aging_by_customer(flt) if args.by == "customer" else aging.aging_summary(flt)
    return render(frame, args.format)


def _cli_actor() -> Actor:
    """Whoever runs the CLI can edit auth.yaml anyway; they act as a Global admin, audited under their login."""
    return Actor.of(f"cli:{getpass.getuser()}", [GLOBAL_ADMIN])


def _users(args: argparse.Namespace) -> str:
    from data_access.auth import users

    actor = _cli_actor()
    if args.action == "list":
        return render(users.list_users(actor), args.format)
    if args.action == "add":
        password = users.add_user(
            actor, username=args.username, name=args.name, email=args.email, roles=args.role
        )
        return f"Added {args.username.strip().lower()}. Temporary password (shown once): {password}\n"
    if args.action == "set-roles":
        users.set_roles(actor, args.username, args.role)
        return f"Roles of {args.username}: {', '.join(args.role)}.\n"
    if args.action == "reset-password":
        password = users.reset_password(actor, args.username)
        return f"New temporary password for {args.username} (shown once): {password}\n"
    change = {"disable": users.disable_user, "enable": users.enable_user, "unlock": users.unlock_user}
    change[args.action](actor, args.username)
    return f"{args.username}: {args.action} done.\n"


def _import(args: argparse.Namespace) -> str:
    from data_access.csv_import import import_csv

    if not args.file.is_file():
        raise InvalidAction(f"There is no file {str(args.file)!r}.")

    def progress(phase: str, rows: int) -> None:
        if rows >= 100_000 and rows % 100_000 < 5_000:
            print(f"{phase}: {rows} rows", file=sys.stderr)

    report = import_csv(_cli_actor(), args.kind, args.file, dry_run=args.dry_run, date_format=args.date_format,
                        update=args.update, progress=progress)  # fmt: skip
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not report.ok:
        lines = "\n".join(f"  {error}" for error in report.errors)
        raise InvalidAction(
            f"{args.file.name} was rejected and nothing was imported; {len(report.errors)} bad row(s):\n{lines}"
        )
    return report.summary() + "\n"


def _report_overview(args: argparse.Namespace) -> str:
    from data_access.queries.overview import overview, overview_frame

    result = overview(_cli_actor(), as_of=args.as_of or clock.today(), currency=args.currency)
    if args.format == "json":
        return to_json(result.as_dict()) + "\n"
    return render(overview_frame(result), args.format)


def _report_tickets(args: argparse.Namespace) -> str:
    from data_access.queries.tickets import tickets_detail, tickets_report

    if args.end < args.start:
        raise InvalidAction(f"--to {args.end} is before --from {args.start}.")
    if args.detail:
        frame = tickets_detail(_cli_actor(), start=args.start, end=args.end, now=datetime.now(UTC))
        return render(frame, args.format)
    by = args.by or "week"
    return render(tickets_report(_cli_actor(), start=args.start, end=args.end, by=by), args.format)


def _report_collections(args: argparse.Namespace) -> str:
    from data_access.queries.collections_state import collections_report

    frame = collections_report(_cli_actor(), as_of=args.as_of or clock.today(), stage=args.stage)
    if args.format != "json":
        frame["suspension_eligible"] = frame["suspension_eligible"].map({True: "true", False: "false"})
    return render(frame, args.format)


def _report_margin(args: argparse.Namespace) -> str:
    from data_access.queries.margin import margin_report

    if args.end < args.start:
        raise InvalidAction(f"--to {args.end} is before --from {args.start}.")
    frame = margin_report(_cli_actor(), args.start, args.end, by=args.by, currency=args.currency)
    return render(frame, args.format)


def _collections_run(args: argparse.Namespace) -> str:
    from data_access.actions.collections_run import run as collections_run

    return collections_run(_cli_actor(), as_of=args.as_of, send=args.send).line() + "\n"


def _report_statement(args: argparse.Namespace) -> str:
    from data_access.documents.statement import statement, statement_frame

    result = statement(_cli_actor(), customer_id=args.customer, start=args.start, end=args.end)
    return render(statement_frame(result), args.format)


def _money(args: argparse.Namespace) -> str:
    from data_access.actions.credit_notes import reverse_credit_note
    from data_access.actions.payments import apply_credit, reverse_payment
    from data_access.queries.credit_notes import customer_credit_notes
    from data_access.queries.payments import customer_payments

    actor = _cli_actor()
    if args.command == "credit":
        applied = apply_credit(actor, customer_id=args.customer, invoice_numbers=tuple(args.invoice))
        return f"Applied {applied} of {args.customer}'s unapplied credit to open invoices.\n"
    if args.action == "list":
        listing = customer_payments if args.command == "payments" else customer_credit_notes
        return render(listing(actor, customer_id=args.customer), args.format)
    if args.command == "payments":
        reopened = reverse_payment(actor, payment_id=args.payment_id, reason=args.reason, reversed_on=args.on)
        return f"Payment {args.payment_id} reversed; {reopened} put back on its invoices.\n"
    reversal = reverse_credit_note(actor, number=args.number, reason=args.reason, reversed_on=args.on)
    return f"Credit note {args.number} reversed by {reversal}.\n"


def _mail(args: argparse.Namespace) -> str:
    from data_access.actions.ticket_mail import fetch_mail
    from data_access.config import InvalidSetting
    from data_access.mail import outbox
    from data_access.mail.imap import MailboxError

    try:
        if args.action == "fetch":
            return fetch_mail(_cli_actor(), limit=args.limit).line() + "\n"
        done = outbox.deliver_due(limit=args.limit)
        if not (done.sent or done.retrying or done.failed or done.left):
            return "Outbox: nothing due.\n"
        return f"Outbox: {done.sentence()}\n"
    except (InvalidSetting, MailboxError) as problem:
        raise InvalidAction(str(problem)) from None


def _settings(args: argparse.Namespace) -> str:
    from data_access.actions.policies import save_offering, save_policy
    from data_access.documents import settings_files
    from data_access.queries.policies import current_policy, support_offering

    actor = _cli_actor()
    offering = args.command == "offering"
    if args.action == "show":
        if offering:
            found = support_offering(actor)
            shown = None if found is None else settings_files.show_offering(found, args.format)
        else:
            policy = current_policy(actor)
            shown = None if policy is None else settings_files.show_policy(policy, args.format)
        if shown is None:
            raise InvalidAction(
                f"There is no {'support offering' if offering else 'collections policy'} yet."
            )
        return shown
    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SettingsFileRefused(f"There is no file {str(args.file)!r}.") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = "it is not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else exc.strerror
        raise SettingsFileRefused(f"{args.file.name} could not be read ({reason}).") from None
    try:
        if offering:
            save_offering(actor, settings_files.read_offering(text))
        else:
            read = settings_files.read_policy(text)
            save_policy(actor, stages=read.stages, minimum_overdue=read.minimum_overdue, grace_days=read.grace_days,
                        disputes_stop_clock=read.disputes_stop_clock, statement_intro=read.statement_intro)  # fmt: skip
    except InvalidAction as exc:
        raise SettingsFileRefused(f"{args.file.name} was not saved: {exc}") from None
    return f"{'Support offering' if offering else 'Collections policy'} saved from {args.file.name}.\n"


def run(args: argparse.Namespace) -> str:
    if args.command in ("offering", "policy"):
        return _settings(args)
    if args.command in ("payments", "credit-notes", "credit"):
        return _money(args)
    if args.command == "mail":
        return _mail(args)
    if args.command == "init":
        return _init()
    if args.command == "seed":
        return _seed(args)
    if args.command == "users":
        return _users(args)
    if args.command == "import":
        return _import(args)
    if args.command == "collections":
        return _collections_run(args)
    if args.report == "collections":
        return _report_collections(args)
    if args.report == "overview":
        return _report_overview(args)
    if args.report == "margin":
        return _report_margin(args)
    if args.report == "statement":
        return _report_statement(args)
    if args.report == "tickets":
        return _report_tickets(args)
    return _report_aging(args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "report", None) == "tickets" and args.detail and args.by is not None:
        parser.exit(
            2, f"{parser.prog}: error: --by groups the summary; --detail lists each ticket, ungrouped\n"
        )
    try:
        sys.stdout.write(run(args))
    except (InvalidAction, PermissionDenied) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, SettingsFileRefused) else 1
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        print(
            f"error: the database could not be used ({reason}); run `python -m data_access init`?",
            file=sys.stderr,
        )
        return 1
    return 0
