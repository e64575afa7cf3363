"""Rendering helpers of the CLI: consoles, JSON, durations, short texts and table cells."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console, ConsoleOptions, ConsoleRenderable, RenderHook
from rich.markup import escape
from rich.segment import Segment

from workers.domain.text import clean

if TYPE_CHECKING:
    from workers.cli.base import Env


class _Cleaned:
    """A renderable whose text is cleaned once Rich has laid it out: an escape sequence or control
    character in upstream text (an error excerpt, Ometria's error_message, a product name) never reaches
    the terminal, whatever command prints it; Rich's own styles and control segments still do."""

    def __init__(self, renderable: Any) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        for segment in console.render(self.renderable, options):
            yield segment if segment.control else Segment(clean(segment.text), segment.style)


class _CleanOutput(RenderHook):
    def process_renderables(self, renderables: list[ConsoleRenderable]) -> list[ConsoleRenderable]:
        return [_Cleaned(r) for r in renderables]


class CleanConsole(Console):
    """Cleans every string before Rich reads it (Rich itself drops a BEL, which would leave an OSC
    sequence unterminated), and every rendered segment after (_CleanOutput)."""

    def render_str(self, text: str, **kwargs: Any) -> Any:
        return super().render_str(clean(text), **kwargs)


def console(stream: Any) -> Console:
    """A console for the CLI's output: every text it prints is cleaned (workers.domain.text.clean)."""
    tty = hasattr(stream, "isatty") and stream.isatty()
    out = CleanConsole(file=stream, width=None if tty else 160, highlight=False, soft_wrap=not tty)
    out.push_render_hook(_CleanOutput())
    return out


def cleaned(data: Any) -> Any:
    """`data` (JSON-like) with every string cleaned, keys included."""
    if isinstance(data, str):
        return clean(data)
    if isinstance(data, dict):
        return {cleaned(k): cleaned(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [cleaned(v) for v in data]
    return data


def print_json(env: Env, data: Any) -> None:
    click.echo(json.dumps(cleaned(data), indent=2, default=lambda value: clean(str(value))))


def echo(text: str, **kwargs: Any) -> None:
    """click.echo of upstream text, cleaned."""
    click.echo(clean(text), **kwargs)


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
