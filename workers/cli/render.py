"""Rendering helpers of the CLI: consoles, JSON, durations, short texts and table cells."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from workers.cli.base import Env


def console(stream: Any) -> Console:
    tty = hasattr(stream, "isatty") and stream.isatty()
    return Console(file=stream, width=None if tty else 160, highlight=False, soft_wrap=not tty)


def print_json(env: Env, data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def ago(ts: float | None) -> str:
    if not ts:
        return "—"
    return f"{duration(time.time() - ts)} ago"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def short(text: str | None, limit: int = 70) -> str:
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def num(value: Any) -> str:
    return "—" if value is None else f"{value:g}" if isinstance(value, float | int) else escape(str(value))


def yes(value: Any) -> str:
    return "—" if value is None else "yes" if value else "no"
