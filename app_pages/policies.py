"""Policies: the collections policy with the statement customers read, the support offering and the partner profile;
billing and global admins edit each of them."""

from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st

from data_access import clock
from data_access.actions.partner import MAX_LOGO_BYTES, save_partner_profile
from data_access.actions.policies import save_offering, save_policy
from data_access.documents.customer_statements import (
    collections_statement_html,
    collections_statement_markdown,
    support_statement_markdown,
)
from data_access.documents.exports import plain
from data_access.enums import Severity, StageAction, SupportVehicle
from data_access.errors import InvalidAction
from data_access.money import from_cents, moment, money, typed_amount
from data_access.permissions import PermissionDenied, allowed
from data_access.queries.partner import PartnerDetails, partner_profile
from data_access.queries.policies import (
    WEEKDAYS,
    ContactMethod,
    OfferingSettings,
    PolicyView,
    PriceRate,
    ResponseTarget,
    SupportOfferingView,
    current_policy,
    support_offering,
)
from data_access.rules.policy import ACTION_LABELS, PLACEHOLDERS, Stage
from ui.cache import cached
from ui.flash import flash, show_flash
from ui.signin import current_actor

STAGE_COLUMNS = ["name", "days_past_due", "action", "message_template"]


def stages_frame(view: PolicyView | None) -> pd.DataFrame:
    stages = view.policy.stages if view else ()
    return pd.DataFrame(
        [(s.name, s.days_past_due, s.action, s.message_template) for s in stages], columns=STAGE_COLUMNS
    )


def text(value: Any) -> str:
    return "" if value is None or pd.isna(value) else str(value)


def whole_days(value: Any) -> int:
    return 0 if value is None or pd.isna(value) else int(value)


def edited_stages(frame: pd.DataFrame) -> list[Stage]:
    """The editor's rows as stages; blank cells stay blank so validation can name them."""
    return [
        Stage(
            name=text(row.name),
            days_past_due=whole_days(row.days_past_due),
            action=text(row.action),
            message_template=text(row.message_template),
        )
        for row in frame.itertuples(index=False)
    ]


def show_policy(view: PolicyView) -> None:
    rules = view.policy
    minimum, grace, disputes = st.columns(3)
    minimum.metric("Minimum overdue balance", money(from_cents(rules.minimum_overdue_cents)))
    grace.metric("Grace days before suspension", rules.grace_days_before_suspension)
    disputes.metric("Disputed invoices", "stop the clock" if rules.disputes_stop_clock else "keep counting")
    st.dataframe(
        stages_frame(view).assign(action=lambda f: f.action.map(lambda a: ACTION_LABELS.get(a, a))),
        hide_index=True,
        width="stretch",
        key="policies_stages_table",
        column_config={
            "name": "Stage",
            "days_past_due": st.column_config.NumberColumn("From days past due"),
            "action": "Action",
            "message_template": st.column_config.TextColumn("Message to the customer", width="large"),
        },
    )
    changed = f" on {moment(view.updated_at)}" if view.updated_at else ""
    st.caption(
        f"{plain(view.name)}. Exempt customers get the reminders and final notices but never reach suspension "
        f"or review for cancellation. Last changed by {plain(view.updated_by or 'the import')}{changed}."
    )


def edit_form(view: PolicyView | None) -> None:
    rules = view.policy if view else None
    version = view.updated_at.isoformat() if view and view.updated_at else "new"
    with st.form("policies_edit"):
        st.subheader("Edit the policy" if view else "Set up the policy")
        edited = st.data_editor(
            stages_frame(view),
            num_rows="dynamic",
            hide_index=True,
            width="stretch",
            key=f"policies_stages_editor_{version}",
            column_config={
                "name": st.column_config.TextColumn("Name", required=True, max_chars=100),
                "days_past_due": st.column_config.NumberColumn(
                    "Days past due", min_value=1, step=1, required=True
                ),
                "action": st.column_config.SelectboxColumn(
                    "Action",
                    options=[action.value for action in StageAction],
                    format_func=lambda value: ACTION_LABELS.get(str(value), str(value)),
                    required=True,
                ),
                "message_template": st.column_config.TextColumn(
                    "Message template",
                    width="large",
                    help="Placeholders: " + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS),
                ),
            },
        )
        minimum_column, grace_column, disputes_column = st.columns(3, vertical_alignment="bottom")
        minimum = minimum_column.number_input(
            "Minimum overdue balance",
            value=float(Decimal(rules.minimum_overdue_cents) / 100) if rules else 0.0,
            step=10.0,
            format="%.2f",
            key=f"policies_minimum_{version}",
            help="Below this overdue balance (in the customer's currency) no stage applies.",
        )
        grace = grace_column.number_input(
            "Grace days before suspension",
            value=rules.grace_days_before_suspension if rules else 0,
            step=1,
            key=f"policies_grace_{version}",
        )
        disputes = disputes_column.toggle(
            "Disputed invoices stop the clock",
            value=rules.disputes_stop_clock if rules else True,
            key=f"policies_disputes_{version}",
        )
        intro = st.text_area(
            "Statement introduction",
            value=view.statement_intro if view else "",
            key=f"policies_intro_{version}",
            help="The opening paragraph of the statement customers read.",
        )
        if st.form_submit_button("Save policy", type="primary", key="policies_save"):
            try:
                save_policy(
                    actor,
                    stages=edited_stages(edited),
                    minimum_overdue=Decimal(str(minimum)),
                    grace_days=int(grace),
                    disputes_stop_clock=disputes,
                    statement_intro=intro,
                )
            except (PermissionDenied, InvalidAction) as exc:
                st.error(plain(exc))
            else:
                flash("Policy saved.")


def statement(view: PolicyView) -> None:
    st.subheader("Collections statement for customers")
    st.caption("Signed with the partner profile's name and how to pay (the Partner profile tab).")
    markdown = cached(collections_statement_markdown)(actor)
    with st.container(border=True):
        st.markdown(markdown)
    as_markdown, as_html, _ = st.columns([1, 1, 3])
    as_markdown.download_button(
        "Download (Markdown)",
        markdown,
        file_name="collections-statement.md",
        mime="text/markdown",
        key="policies_download_markdown",
        on_click="ignore",
        icon=":material/download:",
    )
    as_html.download_button(
        "Download (HTML)",
        collections_statement_html(markdown),
        file_name="collections-statement.html",
        mime="text/html",
        key="policies_download_html",
        on_click="ignore",
        icon=":material/download:",
        help="A page to send or print to PDF from the browser.",
    )


def show_offering(offering: SupportOfferingView) -> None:
    st.subheader(plain(offering.name))
    hours, targets = st.columns(2)
    hours.markdown(f"**Service hours** ({plain(offering.time_zone)})")
    hours.dataframe(
        pd.DataFrame(
            [(day, f"{span[0]}–{span[1]}" if span else "Closed") for day, span in offering.business_hours],
            columns=["Day", "Hours"],
        ),
        hide_index=True,
        key="policies_support_hours",
    )
    targets.markdown("**Targets by severity** (business hours)")
    targets.dataframe(
        pd.DataFrame(
            [(t.severity.capitalize(), t.first_response_hours, t.resolution_hours) for t in offering.targets],
            columns=["Severity", "First response (hours)", "Resolution (hours)"],
        ),
        hide_index=True,
        key="policies_support_targets",
    )
    st.markdown("**Contact methods**")
    st.dataframe(
        pd.DataFrame(
            [(c.method.capitalize(), c.value, c.availability or "") for c in offering.contact_methods],
            columns=["Method", "Contact", "Availability"],
        ),
        hide_index=True,
        key="policies_support_contacts",
    )
    st.markdown("**Pricing**")
    st.markdown(plain(offering.pricing) or "Not set out.")
    st.markdown("**Escalation entitlements with Microsoft**")
    st.markdown("\n".join(f"- {plain(e)}" for e in offering.entitlements) or "Commercial escalations only.")
    upcoming = [(day, name) for day, name in offering.holidays if day >= clock.today()]
    st.markdown("**Upcoming holidays** (no business hours)")
    if upcoming:
        st.dataframe(
            pd.DataFrame(upcoming, columns=["Day", "Holiday"]),
            hide_index=True,
            key="policies_support_holidays",
            column_config={"Day": st.column_config.DateColumn("Day", format="ddd YYYY-MM-DD")},
        )
    else:
        st.caption("None scheduled.")
    if offering.pricing_rates:
        st.markdown("**Prices**")
        st.dataframe(
            pd.DataFrame([(r.item, money(r.amount, r.currency), r.unit) for r in offering.pricing_rates],
                         columns=["Item", "Price", "Per"]),
            hide_index=True,
            key="policies_support_rates",
        )  # fmt: skip


actor = current_actor()
st.title("Policies")
show_flash()
can_edit = allowed(actor, "policies.edit")
collections_tab, support_tab, partner_tab = st.tabs(
    ["Collections policy", "Support offering", "Partner profile"]
)
with collections_tab:
    view = cached(current_policy)(actor)
    if view is None:
        st.info(
            "No collections policy yet: until there is one, no overdue account reaches any stage. "
            + ("Set one up below." if can_edit else "A billing admin can set it up.")
        )
    else:
        show_policy(view)
    if can_edit:
        edit_form(view)
    if view is not None:
        statement(view)


def offering_frames(offering: SupportOfferingView | None) -> dict[str, pd.DataFrame]:
    """The offering's lists as the form's editors show them; amounts as text so they stay exact."""
    spans = dict(offering.business_hours) if offering else {}
    known = {t.severity: t for t in offering.targets} if offering else {}
    return {
        "hours": pd.DataFrame(
            [(label, *(spans.get(label) or ("", ""))) for _, label in WEEKDAYS], columns=["Day", "Opens", "Closes"]
        ),
        "targets": pd.DataFrame(
            [(severity, known[severity].first_response_hours if severity in known else 1,
              known[severity].resolution_hours if severity in known else 8) for severity in Severity.values()],
            columns=["Severity", "First response (hours)", "Resolution (hours)"],
        ),
        "holidays": pd.DataFrame(
            [(day, name) for day, name in offering.holidays] if offering else [], columns=["Day", "Holiday"]
        ),
        "contacts": pd.DataFrame(
            [(c.method, c.value, c.availability) for c in offering.contact_methods] if offering else [],
            columns=["Method", "Contact", "Availability"],
        ),
        "rates": pd.DataFrame(
            [(r.item, r.currency, str(r.amount), r.unit) for r in offering.pricing_rates] if offering else [],
            columns=["Item", "Currency", "Amount", "Unit"],
        ),
    }  # fmt: skip


def offering_from_form(
    name: str, zone: str, edited: dict[str, pd.DataFrame], vehicles: list[str], pricing: str
) -> OfferingSettings:
    """The form's values as the settings save_offering checks; a row left without its date or amount is named."""
    by_label = {label: key for key, label in WEEKDAYS}
    holidays = []
    for number, row in enumerate(edited["holidays"].itertuples(index=False), start=1):
        if not text(row.Holiday) and (row.Day is None or pd.isna(row.Day)):
            continue
        if row.Day is None or pd.isna(row.Day):
            raise InvalidAction(f"Holiday {number} needs a day.")
        holidays.append((pd.Timestamp(row.Day).date(), text(row.Holiday)))
    rates = [
        PriceRate(item=text(row.Item), currency=text(row.Currency).strip().upper(),
                  amount=typed_amount(text(row.Amount)), unit=text(row.Unit))
        for row in edited["rates"].itertuples(index=False)
    ]  # fmt: skip
    return OfferingSettings(
        name=name,
        time_zone=zone.strip(),
        business_hours={
            by_label[row.Day]: (text(row.Opens).strip(), text(row.Closes).strip()) if text(row.Opens).strip()
            else None
            for row in edited["hours"].itertuples(index=False)
        },
        holidays=tuple(holidays),
        targets=tuple(ResponseTarget(str(row[0]), whole_days(row[1]), whole_days(row[2]))
                      for row in edited["targets"].itertuples(index=False)),
        entitlements=tuple(vehicles),
        contact_methods=tuple(ContactMethod(text(row.Method), text(row.Contact), text(row.Availability))
                              for row in edited["contacts"].itertuples(index=False)),
        pricing=pricing,
        pricing_rates=tuple(rates),
    )  # fmt: skip


def edit_offering(offering: SupportOfferingView | None) -> None:
    """Billing and Global admins change the whole offering; save_offering checks it as `offering set` does."""
    frames = offering_frames(offering)
    version = offering.updated_at.isoformat() if offering and offering.updated_at else "new"
    with st.form("policies_support_form"):
        st.markdown("**Change the support offering** (empty opening and closing mean closed that day)")
        name = st.text_input("Name", value=offering.name if offering else "Support offering", max_chars=200,
                             key=f"policies_support_name_{version}")  # fmt: skip
        zone = st.text_input("Time zone (IANA, e.g. America/New_York)", value=offering.time_zone if offering else
                             "UTC", key=f"policies_support_zone_{version}")  # fmt: skip
        edited = {
            "hours": st.data_editor(frames["hours"], hide_index=True, disabled=["Day"],
                                    key=f"policies_support_hours_edit_{version}"),
            "targets": st.data_editor(frames["targets"], hide_index=True, disabled=["Severity"],
                                      key=f"policies_support_targets_edit_{version}"),
        }  # fmt: skip
        st.markdown("Holidays (no business hours that day)")
        edited["holidays"] = st.data_editor(
            frames["holidays"], hide_index=True, num_rows="dynamic", key=f"policies_support_holidays_edit_{version}",
            column_config={"Day": st.column_config.DateColumn("Day", format="YYYY-MM-DD"),
                           "Holiday": st.column_config.TextColumn("Holiday", max_chars=200)},
        )  # fmt: skip
        st.markdown("Contact methods")
        edited["contacts"] = st.data_editor(frames["contacts"], hide_index=True, num_rows="dynamic",
                                            key=f"policies_support_contacts_edit_{version}")  # fmt: skip
        vehicles = st.multiselect("Technical escalation entitlements", SupportVehicle.values(),
                                  default=list(offering.entitlements) if offering else [],
                                  key=f"policies_support_entitlements_{version}")  # fmt: skip
        pricing = st.text_area(
            "Pricing", value=offering.pricing if offering else "", key=f"policies_support_pricing_{version}"
        )
        st.markdown("Prices (amounts exact to the cent, e.g. 150.00)")
        edited["rates"] = st.data_editor(
            frames["rates"], hide_index=True, num_rows="dynamic", key=f"policies_support_rates_edit_{version}",
            column_config={"Amount": st.column_config.TextColumn("Amount")},
        )  # fmt: skip
        if st.form_submit_button("Save support offering", type="primary", key="policies_support_save"):
            try:
                save_offering(actor, offering_from_form(name, zone, edited, vehicles, pricing))
            except (InvalidAction, PermissionDenied) as exc:
                st.error(plain(exc))
            else:
                flash("Support offering saved.")


with support_tab:
    offering = cached(support_offering)(actor)
    if offering is None:
        st.info(
            "No support offering yet: the SLA clocks count every hour. "
            + ("Set it up below, or with `python -m data_access offering set`." if can_edit else
               "A billing admin can set it up.")
        )  # fmt: skip
    else:
        show_offering(offering)
        support_text = support_statement_markdown(actor)
        with st.expander("Customer-facing support statement"):
            st.markdown(support_text)
        left, right = st.columns(2)
        left.download_button("Download (Markdown)", support_text, file_name="support-statement.md",
                             mime="text/markdown", key="policies_support_md")  # fmt: skip
        right.download_button("Download (HTML)", collections_statement_html(support_text),
                              file_name="support-statement.html", mime="text/html",
                              key="policies_support_html")  # fmt: skip
    if allowed(actor, "policies.edit"):
        edit_offering(offering)


def show_partner(partner: PartnerDetails) -> None:
    """The profile as customers see it on statements and reminders."""
    left, right = st.columns([3, 1])
    left.markdown(f"**{plain(partner.name)}**")
    if partner.address:
        left.text(partner.address)
    facts = [("Tax id", partner.tax_id), ("Contact", partner.contact_line)]
    facts += [(line.split(": ", 1)[0], line.split(": ", 1)[1]) for line in partner.remittance_lines]
    left.dataframe(
        pd.DataFrame([(k, v) for k, v in facts if v], columns=["Detail", "Value"]),
        hide_index=True,
        key="policies_partner_table",
    )
    if partner.logo:
        right.image(partner.logo, caption="Logo on statements", width=160)
    changed = f" on {moment(partner.updated_at)}" if partner.updated_at else ""
    st.caption(
        f"Printed on statements of account (header, and how to pay at the foot) and at the end of reminders. Last "
        f"changed by {plain(partner.updated_by or 'nobody')}{changed}."
    )


def edit_partner(partner: PartnerDetails | None) -> None:
    p = partner or PartnerDetails(name="")
    version = p.updated_at.isoformat() if p.updated_at else "new"
    with st.form(f"policies_partner_form_{version}"):
        st.markdown("**Change the partner profile**" if partner else "**Set up the partner profile**")
        left, right = st.columns(2)
        name = left.text_input(
            "Partner name", value=p.name, max_chars=200, key=f"policies_partner_name_{version}"
        )
        tax_id = right.text_input(
            "Tax id (VAT number)", value=p.tax_id or "", key=f"policies_partner_tax_{version}"
        )
        address = st.text_area(
            "Address", value=p.address or "", height=100, key=f"policies_partner_address_{version}"
        )
        email = left.text_input(
            "Contact e-mail", value=p.contact_email or "", key=f"policies_partner_email_{version}"
        )
        phone = right.text_input(
            "Contact phone", value=p.contact_phone or "", key=f"policies_partner_phone_{version}"
        )
        bank = left.text_input("Bank", value=p.bank_name or "", key=f"policies_partner_bank_{version}")
        account = right.text_input(
            "IBAN or account number", value=p.bank_account or "", key=f"policies_partner_account_{version}"
        )
        bic = left.text_input("BIC/SWIFT", value=p.bank_bic or "", key=f"policies_partner_bic_{version}")
        reference = right.text_input(
            "Payment reference instructions",
            value=p.payment_reference or "",
            placeholder="Quote your customer id and invoice number",
            key=f"policies_partner_reference_{version}",
        )
        logo = st.file_uploader(
            f"Logo (PNG or JPEG, up to {MAX_LOGO_BYTES // 1024} KB)",
            type=["png", "jpg", "jpeg"],
            key=f"policies_partner_logo_{version}",
        )
        remove = (
            st.checkbox("Remove the logo", key=f"policies_partner_remove_logo_{version}") if p.logo else False
        )
        if st.form_submit_button(
            "Save partner profile", type="primary", key=f"policies_partner_save_{version}"
        ):
            try:
                save_partner_profile(
                    actor,
                    details=PartnerDetails(
                        name=name, address=address, tax_id=tax_id, contact_email=email, contact_phone=phone,
                        bank_name=bank, bank_account=account, bank_bic=bic, payment_reference=reference,
                    ),
                    logo=logo.getvalue() if logo is not None else None,
                    remove_logo=remove,
                )  # fmt: skip
            except (InvalidAction, PermissionDenied) as exc:
                st.error(plain(exc))
            else:
                flash("Partner profile saved.")


with partner_tab:
    partner = cached(partner_profile)(actor)
    if partner is None:
        st.info(
            "No partner profile yet: statements go out without the partner's name, address or remittance details, "
            + (
                "and reminders without how to pay. Set it up below."
                if can_edit
                else "A billing admin can set it up."
            )
        )
    else:
        show_partner(partner)
    if can_edit:
        edit_partner(partner)
