"""The default collections policy: its thresholds, its five stages and the statement customers read."""

from __future__ import annotations

from datetime import timedelta

from data_access.demo.draw import BILLING, Draw, Row
from data_access.enums import StageAction

MINIMUM_OVERDUE_CENTS = 5_000
GRACE_DAYS = 5
SUSPENSION_DAYS = 45
# The default policy's ranges of days past due; the last one stands for 90+, capped where arrears began
# 3-8 months ago.
OVERDUE_RANGES: tuple[tuple[int, int], ...] = ((1, 14), (15, 29), (30, 44), (45, 89), (90, 250))

POLICY_STAGES: tuple[tuple[int, StageAction, str, str], ...] = (
    (
        1,
        StageAction.REMINDER,
        "Friendly reminder",
        "Hello {customer_name}, a friendly reminder that {currency} {overdue_amount} is past due on your account; "
        "the oldest invoice, {oldest_invoice}, is {days_past_due} days past due. If you have already paid, thank "
        "you, and please ignore this message.",
    ),
    (
        15,
        StageAction.REMINDER,
        "Second reminder",
        "Hello {customer_name}, we have not yet received {currency} {overdue_amount}, now {days_past_due} days "
        "past due (oldest invoice {oldest_invoice}). Please pay, or tell us when to expect payment.",
    ),
    (
        30,
        StageAction.FINAL_NOTICE,
        "Final notice",
        "{customer_name}: final notice. {currency} {overdue_amount} is {days_past_due} days past due (oldest "
        "invoice {oldest_invoice}). A balance still unpaid 45 days after its due date makes your Microsoft "
        "subscriptions eligible for suspension.",
    ),
    (
        45,
        StageAction.SUSPENSION_ELIGIBLE,
        "Suspension",
        "{customer_name}: {currency} {overdue_amount} is {days_past_due} days past due (oldest invoice "
        "{oldest_invoice}). Your Microsoft subscriptions are eligible for suspension and may be suspended after "
        "a grace period of 5 days without further notice.",
    ),
    (
        90,
        StageAction.REVIEW_FOR_CANCELLATION,
        "Review for cancellation / agency",
        "{customer_name}: {currency} {overdue_amount} is {days_past_due} days past due (oldest invoice "
        "{oldest_invoice}). Your account is under review for cancellation of your subscriptions and referral to "
        "a collection agency. Please contact us today.",
    ),
)
STATEMENT_INTRO = (
    "Please pay every invoice by the due date shown on it. When a balance stays unpaid, we take the steps "
    "below, counted in days past the due date of your oldest unpaid invoice. Balances under 50.00 in your "
    "billing currency start no step, and an invoice you dispute is set aside while we look into it. Access to "
    "your Microsoft subscriptions is suspended only after the suspension step and a further grace period."
)


def policy(draw: Draw) -> Row:
    return {
        "id": 1,
        "name": "Standard collections policy",
        "minimum_overdue_cents": MINIMUM_OVERDUE_CENTS,
        "grace_days_before_suspension": GRACE_DAYS,
        "disputes_stop_clock": True,
        "statement_intro": STATEMENT_INTRO,
        "updated_at": draw.horizon - timedelta(days=30, hours=9),
        "updated_by": BILLING,
    }


def partner_profile(draw: Draw) -> Row:
    """The demo partner's own details, as billing set them up before the first invoice: what statements and
    reminders name, and how customers pay (a valid example IBAN and BIC)."""
    return {
        "id": 1,
        "name": "Northwind Cloud Services Ltd.",
        "address": "1 Harbour Street\nLondon EC1A 1AA\nUnited Kingdom",
        "tax_id": "GB123456789",
        "contact_email": "billing@northwind-cloud.example",
        "contact_phone": "+44 20 7946 0000",
        "bank_name": "NatWest",
        "bank_account": "GB82WEST12345698765432",
        "bank_bic": "NWBKGB2L",
        "payment_reference": "Quote your customer id and the invoice number.",
        "logo": None,
        "logo_type": None,
        "updated_at": draw.horizon - timedelta(days=700, hours=9),
        "updated_by": BILLING,
    }


def policy_stages() -> list[Row]:
    return [
        {
            "id": number,
            "policy_id": 1,
            "name": name,
            "days_past_due": days,
            "action": action.value,
            "message_template": template,
        }
        for number, (days, action, name, template) in enumerate(POLICY_STAGES, start=1)
    ]
