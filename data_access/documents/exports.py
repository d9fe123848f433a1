"""Reports leave as csv, json, a plain table or an Excel workbook; amounts stay exact decimals in every format.

Text that users or files set leaves as text: a cell a spreadsheet would run as a formula is written as text, and
text shown in Streamlit's Markdown is escaped so that it reads literally."""

from __future__ import annotations

import html
import io
import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd

FORMATS = ("table", "csv", "json")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


EXCEL_MONEY_FORMAT = "#,##0.00"


WORD_JOINER = "\u2060"


_MARK = "\x00"


_MARKED_NUMBER = re.compile(r'"\\u0000(-?[0-9.]+)\\u0000"')


# Backslash escapes stop what Markdown's parser reads; Streamlit and GFM also rewrite finished text (emoji and
# icon shortcodes, :streamlit:, bare URLs and e-mail addresses, arrows), which an invisible word joiner breaks.
_MARKDOWN_SYNTAX = re.compile(r"[\\`*_\[\]<>$~|]|&(?=#?\w+;)")


_REWRITTEN = re.compile(r"(?<=[:@])(?!\s)|(?<=www)(?=\.)|(?<=[-<>~])(?=[-<>=])", re.IGNORECASE)


_BLOCK_MARK = re.compile(r"^[#+=-]")


_LIST_NUMBER = re.compile(r"^(\d+)([.)])")


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


def formula_safe(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula (it starts with =, +, -, @, a tab or a carriage
    return) gets a leading apostrophe, so it opens as the text it is; numbers, dates and other text stay as they
    are."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def _formula_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    safe = frame.copy()
    for name in safe.columns:
        column = safe[name]
        if pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column):
            safe[name] = column.astype(object).map(formula_safe)
    return safe


def to_csv(frame: pd.DataFrame, *, lineterminator: str = "\n") -> str:
    """The frame as CSV, with every text cell a spreadsheet would run as a formula written as text."""
    text: str = _formula_safe_frame(frame).to_csv(index=False, lineterminator=lineterminator)
    return text


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as a download: UTF-8 CSV with a byte-order mark (so Excel reads accented names right), CRLF line
    ends, no cell a spreadsheet would run as a formula."""
    return to_csv(frame, lineterminator="\r\n").encode("utf-8-sig")


def _is_money(column: pd.Series) -> bool:
    values = column.dropna()
    return column.dtype == object and not values.empty and all(isinstance(v, Decimal) for v in values)


def xlsx_bytes(frame: pd.DataFrame, *, sheet: str) -> bytes:
    """The frame as an Excel workbook: amounts are numbers with a two-decimal format, so they add up in Excel
    (which holds numbers as binary floating point, exact to the cent below ten trillion), and every text cell is
    a string cell, never a formula, those that start like one marked as text the way Excel's apostrophe does."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        frame.to_excel(writer, index=False, sheet_name=sheet)
        worksheet = writer.sheets[sheet]
        for position, name in enumerate(frame.columns, start=1):
            cells = [row[0] for row in worksheet.iter_rows(min_col=position, max_col=position)]
            if _is_money(frame[name]):
                for cell in cells[1:]:
                    cell.number_format = EXCEL_MONEY_FORMAT
            for cell, value in zip(cells[1:], frame[name], strict=True):
                if isinstance(value, str):
                    cell.data_type = "s"
                    cell.quotePrefix = value.startswith(FORMULA_STARTS)
            widest = max((len(str(cell.value)) for cell in cells[:200] if cell.value is not None), default=8)
            worksheet.column_dimensions[cells[0].column_letter].width = min(max(widest + 2, 10), 60)
        worksheet.freeze_panes = "A2"
    return buffer.getvalue()


def render(frame: pd.DataFrame, fmt: str) -> str:
    if fmt == "csv":
        return to_csv(frame)
    if fmt == "json":
        return to_json(frame.to_dict(orient="records"))
    if frame.empty:
        return "(nothing to show)\n"
    return str(frame.astype(object).where(frame.notna(), "").to_string(index=False)) + "\n"


def _plain_line(line: str) -> str:
    line = _REWRITTEN.sub(WORD_JOINER, line.lstrip(" \t"))
    line = _MARKDOWN_SYNTAX.sub(r"\\\g<0>", line)
    return _LIST_NUMBER.sub(r"\1\\\2", _BLOCK_MARK.sub(r"\\\g<0>", line))


def plain(text: Any) -> str:
    """Text that a user or a file set, to put in Streamlit Markdown (st.markdown, captions, messages, headers,
    labels): it reads literally, with its own line breaks, and makes no emphasis, link, image, HTML, colour,
    icon, emoji or maths of its own."""
    lines = str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "  \n".join(_plain_line(line) for line in lines)


def chart_text(text: Any) -> str:
    """Text that a user or a file set, for a plotly category or title: its HTML-like markup (links, bold) reads
    literally."""
    return html.escape(str(text), quote=False)
