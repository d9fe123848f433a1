"""The support offering and the collections policy as JSON files (`offering show|set`, `policy show|set`).

`offering_document` / `policy_document` give what `show --format json` prints; `read_offering` / `read_policy` take
such a file back, checking only its shape (JSON, the keys, the types: text is a string, hours and days are whole
numbers, money is a decimal string such as "12.50", dates are YYYY-MM-DD) and naming the first thing wrong in one
sentence. What the values may be is judged by the save actions, the same as on the Policies page.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd

from data_access.documents.exports import render
from data_access.errors import InvalidAction
from data_access.money import InvalidAmount, from_cents, to_cents
from data_access.queries.policies import (
    WEEKDAYS,
    ContactMethod,
    OfferingSettings,
    PolicyView,
    PriceRate,
    ResponseTarget,
    SupportOfferingView,
)
from data_access.rules.policy import Stage

MAX_FILE_BYTES = 1_000_000
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_LARGEST_DIGITS = 15


class SettingsFileRefused(InvalidAction):
    """A settings file that cannot be read or saved; nothing was written."""


@dataclass(frozen=True)
class PolicySettings:
    """What `save_policy` takes, read from a file."""

    stages: list[Stage]
    minimum_overdue: Decimal
    grace_days: int
    disputes_stop_clock: bool
    statement_intro: str


OFFERING_KEYS = ("name", "time_zone", "business_hours", "holidays", "targets", "entitlements", "contact_methods",
                 "pricing")  # fmt: skip
POLICY_KEYS = ("minimum_overdue", "grace_days", "disputes_stop_clock", "statement_intro", "stages")


def offering_document(view: SupportOfferingView) -> dict[str, Any]:
    """The offering as `offering set` takes it back."""
    settings = view.settings()
    return {
        "name": settings.name,
        "time_zone": settings.time_zone,
        "business_hours": {
            key: list(span) if span else None for key, span in settings.business_hours.items()
        },
        "holidays": [{"date": day.isoformat(), "name": name} for day, name in settings.holidays],
        "targets": {
            t.severity: {
                "first_response_hours": t.first_response_hours,
                "resolution_hours": t.resolution_hours,
            }
            for t in settings.targets
        },
        "entitlements": list(settings.entitlements),
        "contact_methods": [
            {"method": c.method, "value": c.value, "availability": c.availability}
            for c in settings.contact_methods
        ],
        "pricing": {
            "description": settings.pricing,
            "rates": [
                {
                    "item": r.item,
                    "currency": r.currency,
                    "amount": str(from_cents(to_cents(r.amount))),
                    "unit": r.unit,
                }
                for r in settings.pricing_rates
            ],
        },
    }


def policy_document(view: PolicyView) -> dict[str, Any]:
    """The policy as `policy set` takes it back."""
    rules = view.policy
    return {
        "minimum_overdue": str(from_cents(rules.minimum_overdue_cents)),
        "grace_days": rules.grace_days_before_suspension,
        "disputes_stop_clock": rules.disputes_stop_clock,
        "statement_intro": view.statement_intro,
        "stages": [
            {"name": s.name, "days_past_due": s.days_past_due, "action": s.action,
             "message_template": s.message_template}
            for s in rules.stages
        ],
    }  # fmt: skip


def as_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def read_offering(text: str) -> OfferingSettings:
    """The offering a file holds, its shape checked; SettingsFileRefused names the first thing wrong."""
    document = _object(_parse(text), "The file", required=("name", "time_zone", "business_hours", "targets"),
                       optional=OFFERING_KEYS)  # fmt: skip
    hours = _object(document["business_hours"], "business_hours", optional=tuple(key for key, _ in WEEKDAYS))
    business_hours: dict[str, tuple[str, str] | None] = {}
    for key, span in hours.items():
        if span is None:
            business_hours[key] = None
            continue
        if not isinstance(span, list) or len(span) != 2 or not all(isinstance(t, str) for t in span):
            raise SettingsFileRefused(
                f'business_hours.{key} must be an opening and a closing time such as ["08:00", "18:00"], '
                "or null when closed."
            )
        business_hours[key] = (span[0], span[1])
    holidays = []
    for number, item in enumerate(_list(document.get("holidays", []), "holidays"), start=1):
        where = f"holidays[{number}]"
        holiday = _object(item, where, required=("date", "name"))
        holidays.append((_day(holiday["date"], f"{where}.date"), _string(holiday["name"], f"{where}.name")))
    severities = _object(document["targets"], "targets", optional=("critical", "moderate", "minimal"))
    targets = []
    for severity, item in severities.items():
        where = f"targets.{severity}"
        target = _object(item, where, required=("first_response_hours", "resolution_hours"))
        targets.append(
            ResponseTarget(
                severity,
                _whole(target["first_response_hours"], f"{where}.first_response_hours"),
                _whole(target["resolution_hours"], f"{where}.resolution_hours"),
            )
        )
    entitlements = [
        _string(item, f"entitlements[{number}]")
        for number, item in enumerate(_list(document.get("entitlements", []), "entitlements"), start=1)
    ]
    contacts = []
    for number, item in enumerate(_list(document.get("contact_methods", []), "contact_methods"), start=1):
        where = f"contact_methods[{number}]"
        contact = _object(item, where, required=("method", "value"), optional=("availability",))
        contacts.append(
            ContactMethod(
                method=_string(contact["method"], f"{where}.method"),
                value=_string(contact["value"], f"{where}.value"),
                availability=_string(contact.get("availability", ""), f"{where}.availability"),
            )
        )
    pricing = _object(document.get("pricing", {}), "pricing", optional=("description", "rates"))
    rates = []
    for number, item in enumerate(_list(pricing.get("rates", []), "pricing.rates"), start=1):
        where = f"pricing.rates[{number}]"
        rate = _object(item, where, required=("item", "currency", "amount"), optional=("unit",))
        rates.append(
            PriceRate(
                item=_string(rate["item"], f"{where}.item"),
                currency=_string(rate["currency"], f"{where}.currency"),
                amount=_money(rate["amount"], f"{where}.amount"),
                unit=_string(rate.get("unit", ""), f"{where}.unit"),
            )
        )
    return OfferingSettings(
        name=_string(document["name"], "name"),
        time_zone=_string(document["time_zone"], "time_zone"),
        business_hours=business_hours,
        holidays=tuple(holidays),
        targets=tuple(targets),
        entitlements=tuple(entitlements),
        contact_methods=tuple(contacts),
        pricing=_string(pricing.get("description", ""), "pricing.description"),
        pricing_rates=tuple(rates),
    )


def read_policy(text: str) -> PolicySettings:
    """The policy a file holds, its shape checked; SettingsFileRefused names the first thing wrong."""
    document = _object(_parse(text), "The file", required=("minimum_overdue", "grace_days", "stages"),
                       optional=POLICY_KEYS)  # fmt: skip
    stages = []
    for number, item in enumerate(_list(document["stages"], "stages"), start=1):
        where = f"stages[{number}]"
        stage = _object(item, where, required=("name", "days_past_due", "action", "message_template"))
        stages.append(
            Stage(
                name=_string(stage["name"], f"{where}.name"),
                days_past_due=_whole(stage["days_past_due"], f"{where}.days_past_due"),
                action=_string(stage["action"], f"{where}.action"),
                message_template=_string(stage["message_template"], f"{where}.message_template"),
            )
        )
    disputes = document.get("disputes_stop_clock", True)
    if not isinstance(disputes, bool):
        raise SettingsFileRefused("disputes_stop_clock must be true or false.")
    return PolicySettings(
        stages=stages,
        minimum_overdue=_money(document["minimum_overdue"], "minimum_overdue"),
        grace_days=_whole(document["grace_days"], "grace_days"),
        disputes_stop_clock=disputes,
        statement_intro=_string(document.get("statement_intro", ""), "statement_intro"),
    )


def offering_text(view: SupportOfferingView) -> str:
    """The offering for a person at a terminal: its facts, then a small table per list."""
    s = view.settings()
    hours = pd.DataFrame(
        [(label, f"{span[0]}-{span[1]}" if span else "closed") for label, span in view.business_hours],
        columns=["day", "hours"],
    )
    targets = pd.DataFrame(
        [(t.severity, t.first_response_hours, t.resolution_hours) for t in s.targets],
        columns=["severity", "first_response_hours", "resolution_hours"],
    )
    holidays = pd.DataFrame([(d.isoformat(), n) for d, n in s.holidays], columns=["date", "holiday"])
    contacts = pd.DataFrame([(c.method, c.value, c.availability) for c in s.contact_methods],
                            columns=["method", "contact", "availability"])  # fmt: skip
    rates = pd.DataFrame([(r.item, r.currency, str(r.amount), r.unit) for r in s.pricing_rates],
                         columns=["item", "currency", "amount", "unit"])  # fmt: skip
    return "\n".join(
        [
            f"{s.name}",
            f"Time zone: {s.time_zone}",
            f"Escalation entitlements: {', '.join(s.entitlements) or 'commercial escalations only'}",
            _changed(view.updated_by, view.updated_at),
            "",
            "Business hours:",
            render(hours, "table"),
            "Targets (business hours):",
            render(targets, "table"),
            "Holidays:",
            render(holidays, "table"),
            "Contact methods:",
            render(contacts, "table"),
            "Pricing:",
            s.pricing or "(not set out)",
            "",
            render(rates, "table"),
        ]
    )


def policy_text(view: PolicyView) -> str:
    """The policy for a person at a terminal: its settings, then each stage with its message."""
    rules = view.policy
    lines = [
        view.name,
        f"Minimum overdue balance: {from_cents(rules.minimum_overdue_cents)}",
        f"Grace days before suspension: {rules.grace_days_before_suspension}",
        f"Disputed invoices: {'stop the clock' if rules.disputes_stop_clock else 'keep counting'}",
        f"Statement introduction: {view.statement_intro or '(none)'}",
        _changed(view.updated_by, view.updated_at),
        "",
        "Stages:",
    ]
    for number, stage in enumerate(rules.stages, start=1):
        lines += [
            f"{number}. {stage.name}: from {stage.days_past_due} days past due, {stage.action}",
            f"   {stage.message_template}",
        ]
    return "\n".join(lines) + "\n"


def _changed(by: str | None, at: Any) -> str:
    return f"Last changed by {by or 'the import'}" + (f" at {at:%Y-%m-%d %H:%M} UTC." if at else ".")


def _parse(text: str) -> Any:
    if len(text.encode()) > MAX_FILE_BYTES:
        raise SettingsFileRefused(
            f"The file is larger than {MAX_FILE_BYTES:,} bytes; a settings file is far smaller."
        )

    def whole(digits: str) -> int:
        if len(digits.lstrip("-")) > _LARGEST_DIGITS:
            raise SettingsFileRefused(f"The number {digits[:20]}... is far too large for any setting.")
        return int(digits)

    def no_float(number: str) -> Any:
        raise SettingsFileRefused(
            f'{number} is a number with a fraction; amounts are strings such as "12.50" and hours and days '
            "whole numbers."
        )

    def no_constant(name: str) -> Any:
        raise SettingsFileRefused(f"{name} is not a number a setting can take.")

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        twice = sorted({key for key in keys if keys.count(key) > 1})
        if twice:
            raise SettingsFileRefused(f"The key {twice[0]!r} is given twice in one object; give it once.")
        return dict(pairs)

    try:
        return json.loads(
            text, parse_int=whole, parse_float=no_float, parse_constant=no_constant, object_pairs_hook=unique
        )
    except RecursionError:
        raise SettingsFileRefused(
            "The file nests lists or objects too deeply to be a settings file."
        ) from None
    except json.JSONDecodeError as exc:
        raise SettingsFileRefused(
            f"The file is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
        ) from None


def _object(
    value: Any, where: str, *, required: tuple[str, ...] = (), optional: tuple[str, ...] = ()
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SettingsFileRefused(f"{where} must be a JSON object ({{...}}), not {_kind(value)}.")
    known = (*required, *optional)
    unknown = [key for key in value if key not in known]
    if unknown:
        raise SettingsFileRefused(
            f"{where} has unknown keys ({', '.join(map(repr, unknown))}); it takes {', '.join(map(repr, known))}."
        )
    missing = [key for key in required if key not in value]
    if missing:
        raise SettingsFileRefused(f"{where} lacks {', '.join(map(repr, missing))}.")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise SettingsFileRefused(f"{where} must be a JSON list ([...]), not {_kind(value)}.")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise SettingsFileRefused(f"{where} must be text in quotes, not {_kind(value)}.")
    return value


def _whole(value: Any, where: str) -> int:
    if type(value) is not int:
        raise SettingsFileRefused(f"{where} must be a whole number, not {_kind(value)}.")
    return value


def _money(value: Any, where: str) -> Decimal:
    if not isinstance(value, str):
        raise SettingsFileRefused(f'{where} must be an amount in quotes such as "12.50", not {_kind(value)}.')
    try:
        return from_cents(to_cents(value))
    except InvalidAmount as exc:
        raise SettingsFileRefused(f"{where}: {exc}") from None


def _day(value: Any, where: str) -> date:
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    shown = repr(value) if isinstance(value, str) else _kind(value)
    raise SettingsFileRefused(f"{where} must be a date such as 2026-12-25, not {shown}.")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int):
        return "a number"
    if value is None:
        return "null"
    return "a list" if isinstance(value, list) else "an object"


def show_offering(view: SupportOfferingView, fmt: str) -> str:
    """What `offering show` prints: the JSON file `offering set` takes, or readable tables."""
    return as_json(offering_document(view)) if fmt == "json" else offering_text(view)


def show_policy(view: PolicyView, fmt: str) -> str:
    """What `policy show` prints: the JSON file `policy set` takes, or readable text."""
    return as_json(policy_document(view)) if fmt == "json" else policy_text(view)
