"""CSV import on SQLite and PostgreSQL: good files of every kind, every kind of bad row, all-or-nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from data_access.csv_import import import_csv
from data_access.db import read_session
from data_access.models import (
    AuditEvent,
    Base,
    CreditNote,
    Customer,
    Invoice,
    MicrosoftInvoice,
    Subscription,
    Ticket,
)
from data_access.permissions import PermissionDenied
from data_access.queries.aging import AgingFilter, aging_by_customer
from tests.support.actors import BILLING, SALES
from tests.support.environment import ROOT

AS_OF = date(2026, 11, 24)

CUSTOMERS = """customer_id,name,tenant_id,domain,country,currency,account_manager,email
C1,"Contoso, Ltd",8f2d2c4e-0000-4000-8000-000000000001,contoso.com,us,USD,sales,ap@contoso.com
C2,Fabrikam GmbH,,fabrikam.de,DE,EUR,alex.morgan,
"""
INVOICES = """invoice_number,customer_id,issue_date,due_date,amount,currency,disputed
INV-1,C1,2026-07-01,2026-07-31,1000.00,,no
INV-2,C1,2026-08-01,2026-08-31,500.50,USD,yes
INV-3,C1,2026-10-01,2026-10-31,200,,0
INV-4,C2,2026-09-01,2026-10-01,250.25,,
"""
PAYMENTS = """invoice_number,paid_on,amount,reference,customer_id
INV-1,2026-08-15,400.00,wire-1,
,2026-09-20,700.00,wire-2,C1
INV-4,2026-10-05,250.25,,C2
"""
CREDIT_NOTES = """credit_note_number,invoice_number,issued_on,amount,reason
CN-1,INV-3,2026-10-10,50.00,service credit
"""


def write(tmp_path: Path, name: str, text: str, *, bom: bool = False, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path


def counts() -> dict[str, int]:
    with read_session() as session:
        return {
            table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


def load_all(tmp_path: Path) -> None:
    for kind, text in (("customers", CUSTOMERS), ("invoices", INVOICES), ("payments", PAYMENTS),
                       ("credit-notes", CREDIT_NOTES)):  # fmt: skip
        report = import_csv(BILLING, kind, write(tmp_path, f"{kind}.csv", text))
        assert report.ok, report.errors


def test_good_files_import_and_the_aging_follows(database: str, tmp_path: Path) -> None:
    load_all(tmp_path)
    aging = aging_by_customer(AgingFilter(as_of=AS_OF)).set_index("customer_id")
    # INV-1 600 open after wire-1; wire-2 pays INV-1 (600) then 100 of INV-2; CN-1 takes 50 off INV-3.
    assert aging.loc["C1", "total"] == Decimal("550.50")
    assert aging.loc["C1", "61-90"] == Decimal("400.50")
    assert aging.loc["C1", "1-30"] == Decimal("150.00")
    assert "C2" not in aging.index
    with read_session() as session:
        contoso = session.scalars(select(Customer).where(Customer.external_id == "C1")).one()
        assert (contoso.name, contoso.country, contoso.billing_contact_email) == (
            "Contoso, Ltd",
            "US",
            "ap@contoso.com",
        )
        assert session.scalar(select(Invoice.disputed).where(Invoice.number == "INV-2")) is True
        assert session.scalar(select(Invoice.currency).where(Invoice.number == "INV-4")) == "EUR"
    events = [e for e in session_events() if e.permission == "data.import"]
    assert [e.target for e in events] == ["import:customers", "import:invoices", "import:payments",
                                          "import:credit-notes"]  # fmt: skip


def session_events() -> list[AuditEvent]:
    with read_session() as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_reimporting_the_same_files_changes_nothing(database: str, tmp_path: Path) -> None:
    load_all(tmp_path)
    before = counts()
    for kind, text in (("customers", CUSTOMERS), ("invoices", INVOICES), ("payments", PAYMENTS),
                       ("credit-notes", CREDIT_NOTES)):  # fmt: skip
        report = import_csv(BILLING, kind, write(tmp_path, f"again-{kind}.csv", text))
        assert report.ok and report.added == 0 and report.skipped == report.rows
    assert {k: v for k, v in counts().items() if k != "audit_events"} == {
        k: v for k, v in before.items() if k != "audit_events"
    }


def test_update_changes_matched_rows_and_keeps_what_was_paid(database: str, tmp_path: Path) -> None:
    load_all(tmp_path)
    changed = INVOICES.replace("INV-3,C1,2026-10-01,2026-10-31,200", "INV-3,C1,2026-10-01,2026-11-15,300")
    report = import_csv(BILLING, "invoices", write(tmp_path, "changed.csv", changed), update=True)
    assert report.ok and report.updated == 4 and report.added == 0
    with read_session() as session:
        inv3 = session.scalars(select(Invoice).where(Invoice.number == "INV-3")).one()
        assert (inv3.amount_cents, inv3.open_cents, inv3.due_date) == (30_000, 25_000, date(2026, 11, 15))
        assert session.scalar(select(CreditNote.due_date)) == date(2026, 11, 15)
    too_low = INVOICES.replace(
        "INV-1,C1,2026-07-01,2026-07-31,1000.00", "INV-1,C1,2026-07-01,2026-07-31,10.00"
    )
    report = import_csv(BILLING, "invoices", write(tmp_path, "low.csv", too_low), update=True)
    assert [str(e) for e in report.errors] == ["line 2: amount is below the 1000.00 already paid or credited"]


def test_us_dates_with_a_date_format_and_a_bom(database: str, tmp_path: Path) -> None:
    import_csv(BILLING, "customers", write(tmp_path, "c.csv", CUSTOMERS))
    us = "invoice_number,customer_id,issue_date,due_date,amount\nUS-1,C1,07/04/2026,08/03/2026,12.34\n"
    refused = import_csv(BILLING, "invoices", write(tmp_path, "us.csv", us, bom=True))
    assert "not a date in the form YYYY-MM-DD" in str(refused.errors[0])
    report = import_csv(BILLING, "invoices", write(tmp_path, "us.csv", us, bom=True), date_format="%m/%d/%Y")
    assert report.ok and report.added == 1
    with read_session() as session:
        invoice = session.scalars(select(Invoice).where(Invoice.number == "US-1")).one()
    assert (invoice.issue_date, invoice.due_date, invoice.amount_cents) == (
        date(2026, 7, 4),
        date(2026, 8, 3),
        1234,
    )


def test_every_other_kind_imports(database: str, tmp_path: Path) -> None:
    import_csv(BILLING, "customers", write(tmp_path, "c.csv", CUSTOMERS))
    subscriptions = (
        "subscription_id,customer_id,product,sku,quantity,unit_price,billing_cycle,status,term_end\n"
        "S-1,C1,Microsoft 365,Microsoft 365 E3,25,36.00,Monthly,active,2027-06-30\n"
        "S-2,C2,Azure plan,Azure plan,1,0,annual,SUSPENDED,\n"
    )
    tickets = (
        "ticket_id,customer_id,title,category,severity,status,channel,created_at,first_response_at,resolved_at\n"
        "T-1,C1,Invoice question,Billing_Question,moderate,Pending Customer,email,2026-11-02T09:00:00,"
        "2026-11-02T10:30:00+01:00,\n"
    )
    microsoft = (
        "invoice_number,period_start,period_end,amount,currency,due_date,paid_on\n"
        "MS-1,2026-10-01,2026-10-31,81234.56,USD,2026-11-30,\n"
    )
    for kind, text in (
        ("subscriptions", subscriptions),
        ("tickets", tickets),
        ("microsoft-invoices", microsoft),
    ):
        report = import_csv(BILLING, kind, write(tmp_path, f"{kind}.csv", text))
        assert report.ok and report.added == report.rows, (kind, report.errors)
    with read_session() as session:
        assert sorted(session.scalars(select(Subscription.status))) == ["Active", "Suspended"]
        ticket = session.scalars(select(Ticket)).one()
        assert (ticket.category, ticket.status) == ("billing question", "pending customer")
        assert ticket.first_response_at is not None and ticket.first_response_at.hour == 9
        assert session.scalar(select(MicrosoftInvoice.amount_cents)) == 8_123_456


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("invoices", "invoice_number,customer_id,issue_date,amount\nX,C1,2026-01-01,1\n",
         ["line 1: The file lacks required column(s): due_date."]),
        ("invoices", "invoice_number,customer_id,issue_date,due_date,amount\nX,C1,2026-01-01,2026-02-01,\n",
         ["line 2: amount is missing"]),
        ("invoices", "invoice_number,customer_id,issue_date,due_date,amount\nX,C1,2026-02-30,2026-03-01,1\n",
         ["line 2: issue_date '2026-02-30' is not a date in the form YYYY-MM-DD"]),
        ("invoices", "invoice_number,customer_id,issue_date,due_date,amount\nX,C1,2026-01-01,2026-02-01,\"1,000.00\"\n",
         ["line 2: amount '1,000.00' is not an amount (digits with a dot decimal, e.g. 1234.50)"]),
        ("invoices", "invoice_number,customer_id,issue_date,due_date,amount\nX,C1,2026-01-01,2026-02-01,-3\n",
         ["line 2: amount -3 is negative"]),
        ("invoices", "invoice_number,customer_id,issue_date,due_date,amount\nX,C1,2026-03-01,2026-02-01,3\n",
         ["line 2: due_date 2026-02-01 is before issue_date 2026-03-01"]),
        ("invoices", "invoice_number,customer_id,issue_date,due_date,amount\nX,NOPE,2026-01-01,2026-02-01,3\n",
         ["line 2: customer 'NOPE' is unknown; import customers first"]),
        ("invoices", "invoice_number,customer_id,issue_date,due_date,amount\nX,C1,2026-01-01,2026-02-01,3\n"
                     "X,C1,2026-01-01,2026-02-01,3\n",
         ["line 3: duplicate of line 2 in this file"]),
        ("invoices", "invoice_number,customer_id,issue_date,due_date,amount,disputed\nX,C1,2026-01-01,2026-02-01,3,maybe\n",
         ["line 2: disputed 'maybe' is not true/false/yes/no/1/0"]),
        ("credit-notes", "credit_note_number,invoice_number,issued_on,amount\nCN-9,INV-3,2026-11-01,150.01\n",
         ["line 2: amount 150.01 is more than the 150.00 open on invoice INV-3"]),
        ("credit-notes", "credit_note_number,invoice_number,issued_on,amount\nCN-9,INV-404,2026-11-01,1\n",
         ["line 2: invoice 'INV-404' is unknown"]),
        ("payments", "invoice_number,paid_on,amount\nINV-1,2099-01-01,1\n",
         ["line 2: paid_on 2099-01-01 is in the future"]),
        ("payments", "invoice_number,paid_on,amount,customer_id\n,2026-01-01,1,\n",
         ["line 2: give an invoice_number or a customer_id"]),
        ("payments", "invoice_number,paid_on,amount,customer_id\nINV-4,2026-10-01,1,C1\n",
         ["line 2: invoice INV-4 does not belong to 'C1'"]),
        ("tickets", "ticket_id,customer_id,title,category,severity,status,created_at\nT,C1,t,billing,urgent,open,2026-01-01T00:00Z\n",
         ["line 2: category 'billing' is not a ticket category; use one of: billing question, invoice dispute, "
          "payment, subscription change, technical, other; severity 'urgent' is not a severity; use one of: "
          "critical, moderate, minimal"]),
        ("subscriptions", "subscription_id,customer_id,product,sku,quantity,unit_price,billing_cycle,status\n"
                          "S,C1,p,s,2.5,1,monthly,Cancelled\n",
         ["line 2: quantity '2.5' is not a whole number of zero or more; status 'Cancelled' is not a subscription "
          "status; use one of: Active, Suspended, Pending, Expired, Deleted, Disabled"]),
        ("customers", "customer_id,name,country\nC9,Nine,United States\n",
         ["line 2: country 'United States' is not a two-letter country code (ISO 3166, e.g. US, DE)"]),
    ],
)  # fmt: skip
def test_each_kind_of_bad_row_is_reported_and_nothing_is_written(
    database: str, tmp_path: Path, kind: str, text: str, expected: list[str]
) -> None:
    load_all(tmp_path)
    before = counts()
    report = import_csv(BILLING, kind, write(tmp_path, "bad.csv", text))
    assert [str(error) for error in report.errors] == expected
    assert counts() == before


def test_a_bad_row_deep_in_a_large_file_rejects_it_whole(database: str, tmp_path: Path) -> None:
    import_csv(BILLING, "customers", write(tmp_path, "c.csv", CUSTOMERS))
    lines = ["invoice_number,customer_id,issue_date,due_date,amount"]
    lines += [f"BIG-{n},C1,2026-01-01,2026-02-01,{n}.00" for n in range(12_000)]
    lines[11_500] = "BIG-11499,C1,2026-01-01,2026-02-01,oops"
    report = import_csv(BILLING, "invoices", write(tmp_path, "big.csv", "\n".join(lines) + "\n"))
    assert [str(e) for e in report.errors] == ["line 11501: amount 'oops' is not an amount (digits with a dot "
                                               "decimal, e.g. 1234.50)"]  # fmt: skip
    assert counts()["invoices"] == 0


def test_a_row_the_database_refuses_while_writing_rolls_back_the_whole_file(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_all(tmp_path)
    before = counts()
    from data_access.csv_import import money_kinds as kinds
    from data_access.errors import InvalidAction

    real = kinds.ledger.apply_credit_note

    def refuse_the_second(session, **kwargs):  # type: ignore[no-untyped-def]
        if kwargs["number"] == "CN-B":
            raise InvalidAction("refused by the ledger")
        return real(session, **kwargs)

    monkeypatch.setattr(kinds.ledger, "apply_credit_note", refuse_the_second)
    text = "credit_note_number,invoice_number,issued_on,amount\nCN-A,INV-3,2026-10-10,10\nCN-B,INV-3,2026-10-10,10\n"
    report = import_csv(BILLING, "credit-notes", write(tmp_path, "cn.csv", text))
    assert [str(e) for e in report.errors] == ["line 3: refused by the ledger"]
    assert counts() == before


def test_dry_run_reports_and_writes_nothing(database: str, tmp_path: Path) -> None:
    report = import_csv(BILLING, "customers", write(tmp_path, "c.csv", CUSTOMERS + "C3,Three,,,,,,,surplus\n"),
                        dry_run=True)  # fmt: skip
    assert report.errors and "cells" in str(report.errors[0])
    report = import_csv(BILLING, "customers", write(tmp_path, "c.csv", CUSTOMERS), dry_run=True)
    assert report.ok and report.added == 2 and "would be added" in report.summary()
    assert counts()["customers"] == 0


def test_encodings_and_unknown_columns(database: str, tmp_path: Path) -> None:
    latin = import_csv(BILLING, "customers", write(tmp_path, "l.csv", "customer_id,name\nC7,Société\n",
                                                   encoding="latin-1"))  # fmt: skip
    assert [str(e) for e in latin.errors] == [
        "line 2: The file is not UTF-8 text; save it as 'CSV UTF-8' and try again."
    ]
    report = import_csv(BILLING, "customers", write(tmp_path, "u.csv", "Customer ID,Name,Notes\nC7,Société,x\n",
                                                    bom=True))  # fmt: skip
    assert report.ok and report.warnings == ["column 'Notes' is not used and was ignored"]


def test_only_billing_and_global_admins_import(database: str, tmp_path: Path) -> None:
    with pytest.raises(PermissionDenied):
        import_csv(SALES, "customers", write(tmp_path, "c.csv", CUSTOMERS))
    assert counts()["customers"] == 0


def test_the_cli_imports_and_rejects_with_line_numbers(sqlite_database: str, tmp_path: Path) -> None:
    from tests.support.cli import cli

    good = cli("import", "customers", str(write(tmp_path, "c.csv", CUSTOMERS)), database_url=sqlite_database)
    assert good.returncode == 0 and "2 were added" in good.stdout
    bad = cli("import", "invoices", str(write(tmp_path, "i.csv", "invoice_number,customer_id,issue_date,due_date,"
                                               "amount\nA,C1,2026-01-01,2026-02-01,-1\n")),
              database_url=sqlite_database)  # fmt: skip
    assert (
        bad.returncode == 1
        and "line 2: amount -1 is negative" in bad.stderr
        and "Traceback" not in bad.stderr
    )
    missing = cli("import", "invoices", str(tmp_path / "nope.csv"), database_url=sqlite_database)
    assert missing.returncode == 1 and "There is no file" in missing.stderr
    assert ROOT.exists()


def test_update_changes_only_what_the_file_states(database: str, tmp_path: Path) -> None:
    load_all(tmp_path)
    names = "customer_id,name,country\nC2,Fabrikam AG,\nC3,Three,AT\n"
    report = import_csv(BILLING, "customers", write(tmp_path, "names.csv", names), update=True)
    assert (report.ok, report.added, report.updated) == (True, 1, 1), report.errors
    amounts = "invoice_number,customer_id,issue_date,due_date,amount\nINV-2,C1,2026-08-01,2026-08-31,600.50\n"
    assert import_csv(BILLING, "invoices", write(tmp_path, "amounts.csv", amounts), update=True).ok
    with read_session() as session:
        fabrikam = session.scalars(select(Customer).where(Customer.external_id == "C2")).one()
        three = session.scalars(select(Customer).where(Customer.external_id == "C3")).one()
        inv2 = session.scalars(select(Invoice).where(Invoice.number == "INV-2")).one()
    assert (fabrikam.name, fabrikam.currency, fabrikam.country, fabrikam.domain) == (
        "Fabrikam AG", "EUR", "DE", "fabrikam.de",
    )  # fmt: skip
    assert (three.currency, three.country) == ("USD", "AT")
    # wire-2 paid 100.00 of INV-2; the new amount keeps it paid, and the dispute the file did not mention stays.
    assert (inv2.amount_cents, inv2.open_cents, inv2.disputed, inv2.currency) == (60_050, 50_050, True, "USD")


def test_the_collections_exemption_is_imported_and_kept_by_an_update_that_leaves_it_out(
    database: str, tmp_path: Path
) -> None:
    load_all(tmp_path)

    def exempt() -> dict[str, bool]:
        with read_session() as session:
            rows = session.execute(select(Customer.external_id, Customer.exempt_from_collections))
            return {customer: bool(flag) for customer, flag in rows}

    assert exempt() == {"C1": False, "C2": False}
    flags = 'customer_id,name,exempt_from_collections\nC1,"Contoso, Ltd",yes\nC9,Nine,true\n'
    report = import_csv(BILLING, "customers", write(tmp_path, "flags.csv", flags), update=True)
    assert (report.ok, report.added, report.updated) == (True, 1, 1), report.errors
    assert exempt() == {"C1": True, "C2": False, "C9": True}

    renamed = "customer_id,name\nC1,Contoso Ltd\n"
    assert import_csv(BILLING, "customers", write(tmp_path, "renamed.csv", renamed), update=True).ok
    assert exempt()["C1"] is True  # a file without the column leaves the exemption as it was

    cleared = "customer_id,name,exempt_from_collections\nC1,Contoso Ltd,0\n"
    assert import_csv(BILLING, "customers", write(tmp_path, "cleared.csv", cleared), update=True).ok
    assert exempt()["C1"] is False

    bad = "customer_id,name,exempt_from_collections\nC2,Fabrikam GmbH,perhaps\n"
    refused = import_csv(BILLING, "customers", write(tmp_path, "bad.csv", bad), update=True)
    assert not refused.ok and [str(error) for error in refused.errors] == [
        "line 2: exempt_from_collections 'perhaps' is not true/false/yes/no/1/0"
    ]
    assert exempt()["C2"] is False


def test_moving_an_invoice_with_payments_or_credit_notes_is_refused(database: str, tmp_path: Path) -> None:
    load_all(tmp_path)
    before = counts()
    header = "invoice_number,customer_id,issue_date,due_date,amount,currency\n"
    # INV-1 is paid by wire-1 and wire-2, INV-3 credited by CN-1; INV-4, paid on 2026-10-05, may be reissued earlier.
    moves = header + (
        "INV-1,C2,2026-07-01,2026-07-31,1000.00,\n"
        "INV-3,C1,2026-10-01,2026-10-31,200.00,EUR\n"
        "INV-4,C2,2026-09-05,2026-10-01,250.25,\n"
    )
    report = import_csv(BILLING, "invoices", write(tmp_path, "moves.csv", moves), update=True)
    assert [str(e) for e in report.errors] == [
        "line 2: invoice INV-1 has payments or credit notes, so it cannot move to another customer or currency; "
        "reverse them first",
        "line 3: invoice INV-3 has payments or credit notes, so it cannot move to another customer or currency; "
        "reverse them first",
    ]
    late = header + "INV-4,C2,2026-10-06,2026-11-01,250.25,\n"
    report = import_csv(BILLING, "invoices", write(tmp_path, "late.csv", late), update=True)
    assert [str(e) for e in report.errors] == [
        "line 2: issue_date 2026-10-06 is after a payment or credit note on it dated 2026-10-05"
    ]
    assert counts() == before
    import_csv(
        BILLING, "invoices", write(tmp_path, "new.csv", header + "INV-9,C1,2026-11-01,2026-12-01,5,\n")
    )
    moved = import_csv(BILLING, "invoices", write(tmp_path, "move.csv", header + "INV-9,C2,2026-11-01,2026-12-01,5,EUR\n"),
                       update=True)  # fmt: skip
    assert moved.ok and moved.updated == 1, moved.errors
    with read_session() as session:
        inv9 = session.scalars(select(Invoice).where(Invoice.number == "INV-9")).one()
        assert (inv9.customer.external_id, inv9.currency) == ("C2", "EUR")


def test_a_payment_that_lands_between_check_and_write_is_judged_again(database: str, tmp_path: Path) -> None:
    from data_access.actions import payments

    load_all(tmp_path)
    before = counts()
    lower = "invoice_number,customer_id,issue_date,due_date,amount\nINV-3,C1,2026-10-01,2026-10-31,100.00\n"

    def pay_meanwhile(phase: str, rows: int) -> None:
        if phase == "checking":
            payments.record_payment(BILLING, customer_id="C1", amount=Decimal("60.00"), received_on=AS_OF,
                                       invoice_number="INV-3", reference="meanwhile", today=AS_OF)  # fmt: skip

    report = import_csv(
        BILLING, "invoices", write(tmp_path, "lower.csv", lower), update=True, progress=pay_meanwhile
    )
    assert [str(e) for e in report.errors] == ["line 2: amount is below the 110.00 already paid or credited"]
    assert (report.added, report.updated) == (0, 0)
    paid = ("payments", "payment_allocations", "audit_events", "data_version", "subject_versions")
    assert {k: v for k, v in counts().items() if k not in paid} == {
        k: v for k, v in before.items() if k not in paid
    }


def test_the_entry_key_alone_records_an_imported_payment_once(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from data_access.csv_import.money_kinds import ADD, Payments

    load_all(tmp_path)
    before = counts()
    real = Payments.classify

    def blind(self, session, planned, context):  # type: ignore[no-untyped-def]
        real(self, session, planned, context)
        for p in planned:
            p.action = ADD

    monkeypatch.setattr(Payments, "classify", blind)
    report = import_csv(BILLING, "payments", write(tmp_path, "again.csv", PAYMENTS))
    assert report.ok and (report.added, report.skipped) == (0, 3), report.errors
    assert {k: v for k, v in counts().items() if k != "audit_events"} == {
        k: v for k, v in before.items() if k != "audit_events"
    }


def test_a_repeated_header_column_rejects_the_file(database: str, tmp_path: Path) -> None:
    load_all(tmp_path)
    text = "invoice_number,customer_id,issue_date,due_date,amount, Amount \nX,C1,2026-01-01,2026-02-01,1,2\n"
    report = import_csv(BILLING, "invoices", write(tmp_path, "twice.csv", text))
    assert [str(e) for e in report.errors] == [
        "line 1: The header names column 'amount' twice (columns 5 and 6); name each column once."
    ]


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("invoices", "invoice_number,customer_id,issue_date,due_date,amount,currency\n"
                     "X,C1,2026-01-01,2026-02-01,50000000000000000.00,XYZ\n"
                     "Y,C1,2026-01-01,2026-02-01,92233720368547758.08,ÄÖÜ\n"
                     "Z,C1,2026-01-01,2026-02-01,²,ßp\n",
         ["line 2: amount 50000000000000000.00 is more than the largest amount, 1,000,000,000.00; currency 'XYZ' "
          "is not an ISO 4217 currency code (e.g. USD, EUR)",
          "line 3: amount 92233720368547758.08 is more than the largest amount, 1,000,000,000.00; currency 'ÄÖÜ' "
          "is not an ISO 4217 currency code (e.g. USD, EUR)",
          "line 4: amount '²' is not an amount (digits with a dot decimal, e.g. 1234.50); currency 'ßp' is not "
          "an ISO 4217 currency code (e.g. USD, EUR)"]),
        ("invoices", "invoice_number,customer_id,issue_date,due_date,amount\n"
                     "X\x00,NOPE,٢٠٢٦-٠١-٠١,2026-01-01,١٢\n",
         ["line 2: invoice_number contains control characters (U+0000); issue_date '٢٠٢٦-٠١-٠١' is not a date in "
          "the form YYYY-MM-DD; amount '١٢' is not an amount (digits with a dot decimal, e.g. 1234.50); customer "
          "'NOPE' is unknown; import customers first"]),
        ("subscriptions", "subscription_id,customer_id,product,sku,quantity,unit_price,billing_cycle,status\n"
                          "S1,C1,p,s,2147483648,1,monthly,active\nS2,C1,p,s,²,1,monthly,active\n"
                          "S3,C1,p\u202e,s,1000001,1,monthly,active\n",
         ["line 2: quantity 2147483648 is more than 1,000,000",
          "line 3: quantity '²' is not a whole number of zero or more",
          "line 4: product contains control characters (U+202E); quantity 1000001 is more than 1,000,000"]),
        ("customers", "customer_id,name,tenant_id,email,currency\n"
                      "C8,Eight,8f2d2c4e-0000-4000-8000-00000000000,ap@contoso,usd\n",
         ["line 2: tenant_id '8f2d2c4e-0000-4000-8000-00000000000' is not a tenant id (a GUID like "
          "8f2d2c4e-0000-4000-8000-000000000001); email 'ap@contoso' is not an e-mail address"]),
        ("tickets", "ticket_id,customer_id,title,category,severity,status,created_at\n"
                    "T,C1,a\x1bb,other,minimal,open,0001-01-01T00:00+01:00\n",
         ["line 2: title contains control characters (U+001B); created_at '0001-01-01T00:00+01:00' is not "
          "between 2000-01-01 and 2099-12-31"]),
        ("payments", "invoice_number,paid_on,amount,customer_id\nINV-404,2026-01-01,0,NOPE\n",
         ["line 2: amount must be more than zero; invoice 'INV-404' is unknown; customer 'NOPE' is unknown; "
          "import customers first"]),
        ("microsoft-invoices", "invoice_number,period_start,period_end,amount,currency,due_date\n"
                               "MS-9,2026-10-31,2026-10-01,1,XAU,2026-11-30\n",
         ["line 2: currency 'XAU' is not an ISO 4217 currency code (e.g. USD, EUR); period_end is before "
          "period_start"]),
    ],
)  # fmt: skip
def test_hostile_cells_are_refused_with_every_reason_of_the_row(
    database: str, tmp_path: Path, kind: str, text: str, expected: list[str]
) -> None:
    load_all(tmp_path)
    before = counts()
    report = import_csv(BILLING, kind, write(tmp_path, "hostile.csv", text))
    assert [str(error) for error in report.errors] == expected
    assert counts() == before


def test_a_byte_that_is_not_utf8_is_reported_on_its_line(database: str, tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"customer_id,name\nC7,Seven\nC8,Soci\xe9t\xe9\n")
    assert [str(e) for e in import_csv(BILLING, "customers", path).errors] == [
        "line 3: The file is not UTF-8 text; save it as 'CSV UTF-8' and try again."
    ]
    assert counts()["customers"] == 0
