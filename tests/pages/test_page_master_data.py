"""Master data on the pages: billing and global admins edit a customer and keep invoices on the Customers page, and
the partner profile on the Policies page; others see none of it. The forms go through the real actions."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from data_access import clock, ledger
from data_access.db import read_session
from data_access.models import AuditEvent
from data_access.queries import customers
from data_access.queries.partner import load_partner
from tests.support import factories, pages


def widget(app: AppTest, kind: str, label: str) -> Any:
    found = [w for w in getattr(app, kind) if w.label == label]
    assert found, f"no {kind} labelled {label!r}: {[w.label for w in getattr(app, kind)]}"
    return found[0]


def press(app: AppTest, label: str) -> AppTest:
    widget(app, "button", label).click().run()
    assert not app.exception, app.exception
    return app


def customers_page(username: str = "billing") -> AppTest:
    app = pages.open_page("app_pages/customers.py", username)
    app.text_input(key="customers_search").input("C-1").run()
    assert not app.exception, app.exception
    return app


def write_customer() -> None:
    today = clock.today()
    factories.customer("C-1", name="Contoso Ltd", billing_contact_email="old@contoso.example")
    factories.invoice("C-1", "INV-PAID", issued=today - timedelta(days=40), cents=10_000)
    factories.payment("C-1", cents=10_000, received_on=today - timedelta(days=5), invoice="INV-PAID")
    factories.invoice("C-1", "INV-OPEN", issued=today - timedelta(days=20), cents=25_000)


def test_billing_edits_the_customer_and_the_form_starts_again_from_what_was_saved(database: str) -> None:
    write_customer()
    app = customers_page()
    widget(app, "text_input", "Billing contact e-mail").input("ap@contoso.example")
    widget(app, "number_input", "Payment terms (days)").set_value(45)
    widget(app, "toggle", "Exempt from collections").set_value(True)
    press(app, "Save customer")
    assert [s.value for s in app.success] == ["Saved C-1: 3 details changed."]
    now = customers.customer_details(pages_actor(), customer_id="C-1")
    assert (now.billing_contact_email, now.payment_terms_days, now.exempt_from_collections) == (
        "ap@contoso.example", 45, True
    )  # fmt: skip
    assert widget(app, "text_input", "Billing contact e-mail").value == "ap@contoso.example"
    assert ":gray-badge[Exempt from collections]" in " ".join(m.value for m in app.markdown)


def test_a_bad_e_mail_is_refused_on_the_page_and_nothing_is_saved(database: str) -> None:
    write_customer()
    app = customers_page()
    widget(app, "text_input", "Billing contact e-mail").input("not an address")
    widget(app, "text_input", "Credit limit (USD; empty for none)").input("12.345")
    press(app, "Save customer")
    errors = [e.value for e in app.error]
    assert len(errors) == 1 and "The amount" not in errors[0]
    assert "more than two decimal places" in errors[0]
    assert (
        customers.customer_details(pages_actor(), customer_id="C-1").billing_contact_email
        == "old@contoso.example"
    )
    widget(app, "text_input", "Credit limit (USD; empty for none)").input("")
    press(app, "Save customer")
    assert "is not an e-mail address" in app.error[0].value


def test_billing_adds_corrects_and_voids_invoices_on_the_page(database: str) -> None:
    write_customer()
    app = customers_page()
    invoices = next(f.value for f in app.dataframe if "Invoice" in f.value.columns)
    assert list(invoices["Invoice"]) == ["INV-OPEN", "INV-PAID"]
    assert list(invoices["Note"]) == ["", ""]
    widget(app, "text_input", "Invoice number").input("INV-NEW")
    widget(app, "text_input", "Amount").input("1,500.00")
    press(app, "Add invoice")
    assert [s.value for s in app.success] == ["Invoice INV-NEW added."]
    with read_session() as session:
        added = ledger.invoice_by_number(session, "INV-NEW")
        assert (added.amount_cents, added.open_cents, added.due_date) == (
            150_000, 150_000, clock.today() + timedelta(days=30)
        )  # fmt: skip
    # The add form is empty again.
    assert widget(app, "text_input", "Invoice number").value == ""
    # Only invoices nothing is paid on can be corrected or voided.
    picker = app.selectbox(key="customers_invoice_correct_pick")
    assert sorted(picker.options) == ["INV-NEW", "INV-OPEN"]
    picker.set_value("INV-OPEN").run()
    fix_amount = next(w for w in app.text_input if w.label == "Amount" and w.value == "250.00")
    fix_amount.input("200.00")
    widget(app, "button", "Save correction").click().run()
    assert "Say why" in app.error[0].value
    fix_amount = next(w for w in app.text_input if w.label == "Amount" and w.value == "200.00")
    next(w for w in app.text_input if w.label == "Reason (for the audit log)").input("discount agreed")
    press(app, "Save correction")
    assert [s.value for s in app.success] == ["Invoice INV-OPEN corrected."]
    void_pick = next(
        s for s in app.selectbox if s.label == "Invoice" and s.key != "customers_invoice_correct_pick"
    )
    void_pick.set_value("INV-NEW")
    [w for w in app.text_input if w.label == "Reason (for the audit log)"][-1].input("entered twice")
    press(app, "Void invoice")
    assert [s.value for s in app.success] == ["Invoice INV-NEW voided."]
    invoices = next(f.value for f in app.dataframe if "Invoice" in f.value.columns).set_index("Invoice")
    assert invoices.loc["INV-NEW", "Status"] == "voided"
    assert invoices.loc["INV-NEW", "Note"].endswith("entered twice")
    assert invoices.loc["INV-OPEN", "Amount"] == "USD 200.00"
    assert next(m.label for m in app.metric) == "Open balance (USD)" and app.metric[0].value == "200.00"
    with read_session() as session:
        kinds = [d["action"] for d in session.scalars(select(AuditEvent.details).where(
            AuditEvent.permission == "invoice.edit").order_by(AuditEvent.id))]  # fmt: skip
    assert kinds == ["add", "correct", "void"]


@pytest.mark.parametrize("username", ["sales", "helpdesk"])
def test_others_see_nothing_of_the_master_data_forms(database: str, username: str) -> None:
    write_customer()
    app = customers_page(username)
    assert not app.get("form") and not app.expander
    assert "Invoices" not in [s.value for s in app.subheader]
    assert [t.label for t in app.tabs] == []


def test_billing_sets_up_the_partner_profile_on_the_policies_page(database: str) -> None:
    factories.policy()
    app = pages.open_page("app_pages/policies.py", "billing")
    assert "No partner profile yet" in " ".join(i.value for i in app.info)
    widget(app, "text_input", "Partner name").input("Northwind Cloud GmbH")
    widget(app, "text_area", "Address").input("Hauptstraße 5\n10115 Berlin")
    widget(app, "text_input", "IBAN or account number").input("DE89370400440532013001")
    press(app, "Save partner profile")
    assert "The IBAN 'DE89370400440532013001' is not valid" in app.error[0].value
    assert load_partner() is None
    widget(app, "text_input", "IBAN or account number").input("DE89370400440532013000")
    widget(app, "text_input", "BIC/SWIFT").input("COBADEFF")
    press(app, "Save partner profile")
    assert [s.value for s in app.success] == ["Partner profile saved."]
    saved = load_partner()
    assert saved is not None and saved.bank_account == "DE89 3704 0044 0532 0130 00"
    table = next(f.value for f in app.dataframe if "Detail" in f.value.columns)
    assert dict(zip(table.Detail, table.Value, strict=True))["IBAN"] == "DE89 3704 0044 0532 0130 00"
    statement = " ".join(m.value for m in app.markdown)
    assert "Northwind Cloud GmbH: collections statement" in statement


def test_a_helpdesk_agent_reads_the_profile_and_cannot_edit_it(database: str) -> None:
    from data_access.actions.partner import save_partner_profile
    from data_access.queries.partner import PartnerDetails
    from tests.support.actors import BILLING

    save_partner_profile(
        BILLING, details=PartnerDetails(name="Northwind Cloud GmbH", bank_name="Commerzbank")
    )
    app = pages.open_page("app_pages/policies.py", "helpdesk")
    assert "Northwind Cloud GmbH" in " ".join(m.value for m in app.markdown)
    assert not [b for b in app.button if b.label == "Save partner profile"]
    table = next(f.value for f in app.dataframe if "Detail" in f.value.columns)
    assert "None" not in table.to_string()


def pages_actor() -> Any:
    from tests.support.actors import BILLING

    return BILLING


def test_amounts_on_the_forms_are_decimal_never_float(database: str) -> None:
    write_customer()
    details = customers.customer_details(pages_actor(), customer_id="C-1")
    assert details.credit_limit is None or isinstance(details.credit_limit, Decimal)
