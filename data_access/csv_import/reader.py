"""Streaming a CSV file into parsed rows, a chunk at a time, with the line each row starts on."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from data_access.csv_import.fields import BadValue, Parser

Source = Path | bytes


@dataclass(frozen=True)
class Column:
    name: str
    parse: Parser
    required: bool = False


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class Row:
    line: int
    values: dict[str, Any]


@dataclass
class Chunk:
    rows: list[Row] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


class FileProblem(ValueError):
    """The file as a whole cannot be read (encoding, header)."""


def _normalise(header: str) -> str:
    return "_".join(header.strip().lower().replace("-", "_").split())


def _open(source: Source) -> IO[str]:
    if isinstance(source, bytes):
        return io.TextIOWrapper(io.BytesIO(source), encoding="utf-8-sig", newline="")
    return source.open(encoding="utf-8-sig", newline="")


def header_of(source: Source, columns: list[Column]) -> tuple[list[str], list[str]]:
    """The file's columns that are used, and a warning for each column that is not."""
    with _open(source) as handle:
        try:
            header = next(csv.reader(handle), None)
        except UnicodeDecodeError:
            raise FileProblem("The file is not UTF-8 text; save it as 'CSV UTF-8' and try again.") from None
    if not header:
        raise FileProblem("The file is empty; the first line must name the columns.")
    names = [_normalise(name) for name in header]
    known = {column.name for column in columns}
    warnings = [
        f"column {name!r} is not used and was ignored" for name in names if name and name not in known
    ]
    missing = [column.name for column in columns if column.required and column.name not in names]
    if missing:
        raise FileProblem(f"The file lacks required column(s): {', '.join(missing)}.")
    return names, warnings


def chunks(source: Source, columns: list[Column], size: int = 5000) -> Iterator[Chunk]:
    """Parsed rows in chunks; a row that cannot be parsed becomes an error for its line instead."""
    by_name = {column.name: column for column in columns}
    with _open(source) as handle:
        reader = csv.reader(handle)
        try:
            names = [_normalise(name) for name in next(reader)]
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
            raise FileProblem("The file is not UTF-8 text; save it as 'CSV UTF-8' and try again.") from None
        except csv.Error as exc:
            raise FileProblem(f"The file is not valid CSV near line {reader.line_num}: {exc}.") from None


def _parse(chunk: Chunk, line: int, names: list[str], cells: list[str], by_name: dict[str, Column]) -> None:
    if len(cells) > len(names):
        chunk.errors.append(RowError(line, f"{len(cells)} cells but the header names {len(names)} columns"))
        return
    values: dict[str, Any] = {}
    reasons: list[str] = []
    for name, cell in zip(names, cells, strict=False):
        column = by_name.get(name)
        if column is None:
            continue
        cell = cell.strip()
        if not cell:
            values[name] = None
            continue
        try:
            values[name] = column.parse(name, cell)
        except BadValue as exc:
            reasons.append(str(exc))
    for column in by_name.values():
        if column.required and values.get(column.name) is None and not any(column.name in r for r in reasons):
            reasons.append(f"{column.name} is missing")
    if reasons:
        chunk.errors.append(RowError(line, "; ".join(reasons)))
    else:
        chunk.rows.append(Row(line, values))
