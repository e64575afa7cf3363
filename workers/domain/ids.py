"""Ids, one rule everywhere: a positive integer below 2^63 (PostgreSQL's BIGINT).

Callbacks carry ids as JSON integers (`is_id`); people type them as text on the command line, in the
admin page's forms and in URLs (`parse_id`, `parse_ids`). Text is read as ASCII digits only:
`str.isdigit()` also accepts "²" and other Unicode digits, which `int()` then refuses or misreads.
"""

from __future__ import annotations

import re

MAX_ID = 2**63 - 1
"""The largest id: PostgreSQL's and SQLite's signed 64-bit integer."""

_DIGITS = re.compile(r"[0-9]{1,19}")


def is_id(value: object) -> bool:
    """True for a JSON integer id: an int (not a bool) in 1..MAX_ID."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def parse_id(text: str, what: str = "id") -> int:
    """The id written as ASCII digits in `text` (surrounding blanks allowed); ValueError saying why."""
    stripped = text.strip() if isinstance(text, str) else ""
    if not _DIGITS.fullmatch(stripped) or not 0 < int(stripped) <= MAX_ID:
        shown = text if len(str(text)) <= 40 else str(text)[:40] + "…"
        raise ValueError(f"{what} must be a whole number from 1 to {MAX_ID}, got {shown!r}")
    return int(stripped)


def parse_ids(text: str, what: str = "ids") -> list[int]:
    """Ids separated by commas and/or blanks, de-duplicated in order; ValueError on any bad one."""
    parts = text.replace(",", " ").split() if isinstance(text, str) else []
    if not parts:
        raise ValueError(f"{what}: give at least one id")
    return list(dict.fromkeys(parse_id(part, what) for part in parts))


def product_of(record_id: object) -> int | None:
    """The product an Ometria record id belongs to: "12" (the product) and "12-34" (a variant) are
    product 12; None when the id does not start with one."""
    head = str(record_id).split("-", 1)[0]
    try:
        return parse_id(head)
    except ValueError:
        return None
