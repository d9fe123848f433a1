"""What customers read: the collections policy and the support offering as Markdown and HTML."""

from __future__ import annotations

import html
import re

from data_access.documents.exports import WORD_JOINER, plain
from data_access.enums import StageAction
from data_access.money import day, from_cents, money
from data_access.permissions import Actor, requires
from data_access.queries.partner import PartnerDetails, load_partner
from data_access.queries.policies import SupportOfferingView, _offering, current_policy
from data_access.rules import policy

_WHAT_HAPPENS: dict[str, str] = {
    StageAction.REMINDER: "We send you a reminder of the overdue balance.",
    StageAction.FINAL_NOTICE: "We send you a final notice: the last reminder before access to your "
    "subscriptions is at risk.",
    StageAction.SUSPENSION_ELIGIBLE: "Your Microsoft subscriptions become eligible for suspension.",
    StageAction.REVIEW_FOR_CANCELLATION: "We review your account for cancellation of your subscriptions and "
    "may refer the debt to a collection agency.",
}


def _stage_lines(rules: policy.Policy) -> list[str]:
    lines = []
    for stage in sorted(rules.stages, key=lambda s: s.days_past_due):
        days = "1 day" if stage.days_past_due == 1 else f"{stage.days_past_due} days"
        what = _WHAT_HAPPENS.get(stage.action, policy.ACTION_LABELS.get(stage.action, stage.action))
        if stage.action == StageAction.SUSPENSION_ELIGIBLE:
            grace = rules.grace_days_before_suspension
            what += (
                f" We may suspend them {grace} day{'s' if grace != 1 else ''} later (the grace period) "
                "if the balance is still unpaid, without further notice."
                if grace
                else " We may suspend them from that day if the balance is still unpaid, without further notice."
            )
        lines.append(f"- **{days} past due ({plain(stage.name)}).** {what}")
    return lines


def _contact_lines(offering: SupportOfferingView | None, profile: PartnerDetails | None = None) -> list[str]:
    if offering is None or not offering.contact_methods:
        if profile is not None and profile.contact_line:
            return [f"- {plain(profile.contact_line)}"]
        return ["Contact your account manager, or reply to any reminder we send you."]
    return [
        f"- {plain(c.method.capitalize())}: {plain(c.value)}"
        + (f" ({plain(c.availability)})" if c.availability else "")
        for c in offering.contact_methods
    ]


DEFAULT_PARTNER = "Your CSP partner"


def partner_name_or_default(partner_name: str | None, profile: PartnerDetails | None) -> str:
    """The name given, else the partner profile's, else "Your CSP partner"."""
    if partner_name and partner_name.strip():
        return partner_name.strip()
    return profile.name if profile is not None and profile.name else DEFAULT_PARTNER


def how_to_pay_lines(profile: PartnerDetails | None) -> list[str]:
    """Markdown: how to pay the partner (remittance details), or the general sentence when none are set."""
    if profile is None or not profile.remittance_lines:
        return ["Pay with the payment details printed on your invoice, quoting the invoice number."]
    return [
        f"Pay {plain(profile.name)} by bank transfer:",
        "\n".join(f"- {plain(line)}" for line in profile.remittance_lines),
    ]


@requires("policies.view")
def collections_statement_markdown(actor: Actor, *, partner_name: str | None = None) -> str:
    """The customer-facing statement of the policy: each stage in plain words, the minimum, the grace days,
    disputes and promises to pay, how to pay (the partner profile's remittance details) and how to reach us.
    Signed with `partner_name`, else the partner profile's name, else "Your CSP partner"."""
    view = current_policy(actor)
    profile = load_partner()
    partner = plain(partner_name_or_default(partner_name, profile))
    title = f"# {partner}: collections statement"
    if view is None or not view.policy.stages:
        return "\n\n".join(
            [
                title,
                f"{partner} has not set out a collections policy yet. Please pay every invoice by its due date.",
            ]
        )
    rules = view.policy
    minimum = (
        f"An overdue balance under **{money(from_cents(rules.minimum_overdue_cents))}** in your billing currency starts "
        "no step, however old it is."
        if rules.minimum_overdue_cents
        else "Any overdue balance, however small, starts the steps below."
    )
    disputes = (
        "If you dispute an invoice, it is set aside while we look into it: it does not count towards the days "
        "past due or the overdue balance. Once the dispute is resolved it counts again from its own due date."
        if rules.disputes_stop_clock
        else "An invoice you dispute keeps counting towards the days past due while we look into it; please pay "
        "the undisputed part on time."
    )
    sections = [
        title,
        plain(view.statement_intro)
        or "Please pay every invoice by the due date shown on it. When a balance stays unpaid, we take the steps "
        "below.",
        "## The steps we take",
        "Days are counted past the due date of your oldest unpaid invoice.",
        "\n".join(_stage_lines(rules)),
        "## Small balances",
        minimum,
        "## Suspension",
        f"Access to your Microsoft subscriptions is suspended only after the suspension step and a grace period "
        f"of {rules.grace_days_before_suspension} days, and only while the balance is still at least "
        f"{money(from_cents(rules.minimum_overdue_cents))}.",
        "## Disputes",
        disputes,
        "## Promises to pay",
        "If you tell us when you will pay, no new step starts until that date; if the payment does not arrive by "
        "then, the steps continue where the days past due have reached.",
        "## How to pay and contact us",
        *how_to_pay_lines(profile),
        "Questions about a balance, or a dispute:",
        "\n".join(_contact_lines(_offering(), profile)),
    ]
    return "\n\n".join(sections) + "\n"


_BOLD = re.compile(r"\*\*(.+?)\*\*")


_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


_HTML_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.5; color: #1b1b1b; }}
h1 {{ font-size: 1.6rem; }} h2 {{ font-size: 1.2rem; margin-top: 1.6rem; }}
@media print {{ body {{ margin: 0; }} }}
</style>
</head>
<body>
{body}
</body>
</html>
"""


def _inline(text: str) -> str:
    marked_up = _BOLD.sub(r"<strong>\1</strong>", html.escape(text))
    return _ESCAPED.sub(r"\1", marked_up).replace(WORD_JOINER, "")


def collections_statement_html(markdown_text: str) -> str:
    """The statement as one self-contained HTML page (headings, paragraphs, lists, bold, Markdown's backslash
    escapes); all text escaped."""
    body: list[str] = []
    paragraph: list[str] = []
    in_list = False
    title = "Collections statement"

    def close() -> None:
        nonlocal in_list
        if paragraph:
            body.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if in_list:
            body.append("</ul>")
            in_list = False

    for raw in markdown_text.splitlines():
        line = raw.strip()
        if line.startswith("# "):
            close()
            title = line[2:].strip()
            body.append(f"<h1>{_inline(title)}</h1>")
        elif line.startswith("## "):
            close()
            body.append(f"<h2>{_inline(line[3:].strip())}</h2>")
        elif line.startswith("- "):
            if paragraph:
                close()
            if not in_list:
                body.append("<ul>")
                in_list = True
            body.append(f"<li>{_inline(line[2:].strip())}</li>")
        elif not line:
            close()
        else:
            if in_list:
                close()
            paragraph.append(line)
    close()
    return _HTML_PAGE.format(title=_inline(title), body="\n".join(body))


@requires("policies.view")
def support_statement_markdown(actor: Actor, *, partner_name: str | None = None) -> str:
    """The customer-facing support statement: hours, holidays, how to reach us, targets in business hours; from
    `partner_name`, else the partner profile's name, else "Your CSP partner"."""
    offering = _offering()
    partner_name = partner_name_or_default(partner_name, load_partner())
    if offering is None:
        return f"# Support from {plain(partner_name)}\n\nNo support offering has been set out yet.\n"
    lines = [f"# Support from {plain(partner_name)}", "",
             f"We answer support requests during these hours ({plain(offering.time_zone)} time):", ""]  # fmt: skip
    lines += [
        f"- **{weekday}:** {f'{span[0]} to {span[1]}' if span else 'closed'}"
        for weekday, span in offering.business_hours
    ]
    upcoming = [f"- {day(holiday)}: {plain(name)}" for holiday, name in offering.holidays]
    if upcoming:
        lines += ["", "We are closed on these holidays:", "", *upcoming]
    lines += ["", "## How to reach us", ""]
    lines += [f"- **{plain(c.method.capitalize())}:** {plain(c.value)}"
              + (f" ({plain(c.availability)})" if c.availability else "")
              for c in offering.contact_methods] or ["- Your account manager."]  # fmt: skip
    lines += ["", "## How fast we respond", "",
              "Times count business hours only: a request sent on a Friday evening is answered from Monday morning.",
              ""]  # fmt: skip
    lines += [f"- **{t.severity.capitalize()}:** first response within {t.first_response_hours} business hours, "
              f"resolution within {t.resolution_hours}." for t in offering.targets]  # fmt: skip
    if offering.entitlements:
        lines += ["", "Technical issues beyond our support boundary are escalated to Microsoft through "
                  + ", ".join(map(plain, offering.entitlements))
                  + "; billing and licensing issues through Microsoft's commercial support."]  # fmt: skip
    if offering.pricing:
        lines += ["", "## Pricing", "", plain(offering.pricing)]
    return "\n".join(lines) + "\n"
