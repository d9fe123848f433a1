"""Reports leave as csv, json or a plain table; amounts stay exact decimals in every format."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd

FORMATS = ("table", "csv", "json")
_MARK = "\x00"
_MARKED_NUMBER = re.compile(r'"\\u0000(-?[0-9.]+)\\u0000"')


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{_MARK}{value}{_MARK}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if hasattr(value, "item"):
        return value.item()
    return value


def to_json(value: Any) -> str:
    """JSON with Decimal amounts written as exact numbers (1234.50), never through float."""
    return _MARKED_NUMBER.sub(r"\1", json.dumps(_jsonable(value), indent=2, ensure_ascii=False))


def render(frame: pd.DataFrame, fmt: str) -> str:
    if fmt == "csv":
        return str(frame.to_csv(index=False, lineterminator="\n"))
    if fmt == "json":
        return to_json(frame.to_dict(orient="records"))
    if frame.empty:
        return "(nothing to show)\n"
    return str(frame.astype(object).where(frame.notna(), "").to_string(index=False)) + "\n"
