"""Checks on text that people and files give us: every refusal is a sentence naming what is wrong."""

from __future__ import annotations

import unicodedata

from data_access.errors import InvalidAction

_ALLOWED_IN_MULTILINE = {"\n", "\t"}


def control_characters(value: str, *, multiline: bool = False) -> list[str]:
    """The control characters in `value` (NUL, escape, bidi overrides...), named as U+XXXX."""
    allowed = _ALLOWED_IN_MULTILINE if multiline else set()
    found = {
        char
        for char in value
        if char not in allowed and (unicodedata.category(char) in ("Cc", "Cf", "Cs") and char != "\u200d")
    }
    return sorted(f"U+{ord(char):04X}" for char in found)


def clean_text(value: str | None, what: str, max_length: int, *, multiline: bool = False) -> str | None:
    """Trimmed text, None when empty; refused when too long or carrying control characters."""
    if value is None:
        return None
    text = value.replace("\r\n", "\n").strip() if multiline else value.strip()
    if not text:
        return None
    bad = control_characters(text, multiline=multiline)
    if bad:
        raise InvalidAction(
            f"{what} contains control characters ({', '.join(bad)}); remove them and try again."
        )
    if len(text) > max_length:
        raise InvalidAction(f"{what} is longer than {max_length} characters.")
    return text
