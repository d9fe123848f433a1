"""What customers read quotes amounts as people write them: "EUR 7,905.05", never "EUR 7905.05"."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from data_access import clock
from data_access.actions.collections import send_reminder
from data_access.documents.customer_statements import collections_statement_markdown
from data_access.enums import StageAction
from data_access.rules.policy import Stage
from tests.support import factories
from tests.support.actors import BILLING

TEMPLATE = "Hello {customer_name}, {currency} {overdue_amount} is {days_past_due} days past due."


def test_the_reminder_and_the_statement_show_thousands_separators(database: str) -> None:
    factories.saved_policy(
        [Stage("Reminder", 1, StageAction.REMINDER, TEMPLATE)], minimum_overdue=Decimal("1250.00")
    )
    factories.customer("C-EUR", name="Fabrikam GmbH", currency="EUR", country="DE")
    factories.invoice(
        "C-EUR", "E-1", issued=clock.today() - timedelta(days=40), cents=790_505, currency="EUR"
    )

    text = send_reminder(BILLING, customer_id="C-EUR", as_of=clock.today())

    assert text == "Hello Fabrikam GmbH, EUR 7,905.05 is 10 days past due."
    assert "1,250.00" in collections_statement_markdown(BILLING)
