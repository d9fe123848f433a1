"""A message for the next run: an action sets it and reruns (so every cached read shows what it changed), the
next run shows it once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NoReturn

import streamlit as st

from data_access.documents.exports import plain
from ui.session_keys import FLASH

Kind = Literal["success", "info", "warning", "error"]


@dataclass(frozen=True)
class Note:
    """One message: `text` is shown as plain text; `code`, if any, verbatim on a line of its own (a one-time
    password to copy)."""

    text: str
    kind: Kind = "success"
    code: str | None = None


def flash(*notes: str | Note) -> NoReturn:
    """Say this on the next run, once, and start that run now (a plain string is a success message)."""
    st.session_state[FLASH] = tuple(Note(note) if isinstance(note, str) else note for note in notes)
    st.rerun()


def show_flash() -> None:
    """The messages set before the rerun, shown once (call it under the page's title)."""
    for note in st.session_state.pop(FLASH, ()):
        body = plain(note.text) + (f"  \n`{note.code}`" if note.code else "")
        getattr(st, note.kind)(body)
