"""Streaming a CSV file into parsed rows, a chunk at a time, with the line each row starts on."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from data_access.checks import control_characters
from data_access.csv_import.fields import BadValue, Parser, shown

Source = Path | bytes
NOT_UTF8 = "The file is not UTF-8 text; save it as 'CSV UTF-8' and try again."


@dataclass(frozen=True)
class Column:
    name: str
    parse: Parser
    required: bool = False
    read: bool = True
    """False for a column a file may have that is known but not used: neither read nor warned about."""
    label: str = ""
    """How messages name the column when it differs from `name` (Microsoft's own spelling: ChargeStartDate)."""

    @property
    def called(self) -> str:
        return self.label or self.name


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class Row:
    """A row's parsed cells (None when empty; absent when the file lacks the column or the cell is unreadable)
    and what is wrong with its cells."""

    line: int
    values: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    unreadable: set[str] = field(default_factory=set)


@dataclass
class Chunk:
    rows: list[Row] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


class FileProblem(ValueError):
    """The file as a whole cannot be read (encoding, header, quoting); `line` is where reading stopped."""

    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message)
        self.line = line


def _normalise(header: str) -> str:
    return "_".join(header.strip().lower().replace("-", "_").split())


def _names(header: list[str]) -> list[str]:
    names = [_normalise(name) for name in header]
    first: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if name and name in first:
            raise FileProblem(
                f"The header names column {shown(name)} twice (columns {first[name]} and {position}); name each "
                "column once."
            )
        first.setdefault(name, position)
    return names


def _open(source: Source) -> IO[str]:
    if isinstance(source, bytes):
        return io.TextIOWrapper(io.BytesIO(source), encoding="utf-8-sig", newline="")
    return source.open(encoding="utf-8-sig", newline="")


def _undecodable_line(source: Source) -> int:
    """The first line that is not UTF-8 (a newline byte never occurs inside a UTF-8 character)."""
    raw = io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")
    with raw:
        for number, line in enumerate(raw, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 1


def header_of(source: Source, columns: list[Column]) -> tuple[list[str], list[str]]:
    """The file's columns that are used, and a warning for each column that is not."""
    with _open(source) as handle:
        try:
            header = next(csv.reader(handle), None)
        except UnicodeDecodeError:
            raise FileProblem(NOT_UTF8, _undecodable_line(source)) from None
        except csv.Error as exc:
            raise FileProblem(f"The header line is not valid CSV: {exc}.") from None
    if not header:
        raise FileProblem("The file is empty; the first line must name the columns.")
    names = _names(header)
    known = {column.name for column in columns}
    warnings = [
        f"column {shown(cell.strip())} is not used and was ignored"
        for cell, name in zip(header, names, strict=True)
        if name and name not in known
    ]
    missing = [column.called for column in columns if column.required and column.name not in names]
    if missing:
        raise FileProblem(f"The file lacks required column(s): {', '.join(missing)}.")
    return names, warnings


def chunks(source: Source, columns: list[Column], size: int = 5000) -> Iterator[Chunk]:
    """Parsed rows in chunks; each row carries what is wrong with its cells, a ragged row becomes an error."""
    by_name = {column.name: column for column in columns}
    with _open(source) as handle:
        reader = csv.reader(handle)
        line = 1
        try:
            names = _names(next(reader))
            chunk = Chunk()
            line = reader.line_num + 1
            for cells in reader:
                if any(cell.strip() for cell in cells):
                    _parse(chunk, line, names, cells, by_name)
                line = reader.line_num + 1
                if len(chunk.rows) + len(chunk.errors) >= size:
                    yield chunk
                    chunk = Chunk()
            yield chunk
        except UnicodeDecodeError:
            raise FileProblem(NOT_UTF8, _undecodable_line(source)) from None
        except csv.Error as exc:
            raise FileProblem(f"The file is not valid CSV from this line on: {exc}.", line) from None


def _parse(chunk: Chunk, line: int, names: list[str], cells: list[str], by_name: dict[str, Column]) -> None:
    if len(cells) > len(names):
        chunk.errors.append(RowError(line, f"{len(cells)} cells but the header names {len(names)} columns"))
        return
    values: dict[str, Any] = {}
    reasons: list[str] = []
    unreadable: set[str] = set()
    for name, cell in zip(names, cells, strict=False):
        column = by_name.get(name)
        if column is None or not column.read:
            continue
        bad = [] if cell.isprintable() else control_characters(cell.strip(" \t"))
        cell = cell.strip()
        if bad:
            reasons.append(f"{column.called} contains control characters ({', '.join(bad)})")
            unreadable.add(name)
        elif not cell:
            values[name] = None
        else:
            try:
                values[name] = column.parse(column.called, cell)
            except BadValue as exc:
                reasons.append(str(exc))
                unreadable.add(name)
    for column in by_name.values():
        if column.required and values.get(column.name) is None and column.name not in unreadable:
            reasons.append(f"{column.called} is missing")
    chunk.rows.append(Row(line, values, reasons, unreadable))
