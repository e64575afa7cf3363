"""The value parsers of the settings: what a variable's text must look like, as pydantic types
(`Text`, `Number`, `Whole`, `PositiveNumber`, `Port`, `PublicUrl`, `DatabaseUrl`), and
`ConfigError`. Re-exported by `workers.settings`."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BeforeValidator


class ConfigError(RuntimeError):
    """The configuration cannot work; the message says what to set."""


def _text(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _number(value: Any) -> Any:
    """float() as before (so "2", " 2.5 ", "1e3" keep working); the error says what was wrong."""
    try:
        return float(_text(value))
    except (TypeError, ValueError):
        raise ValueError("not a number") from None


def _whole(value: Any) -> Any:
    """int() as before."""
    try:
        return int(_text(value))
    except (TypeError, ValueError):
        raise ValueError("not a whole number") from None


def _public_url(value: Any) -> Any:
    """Empty, or an http(s) URL with a host and no query or fragment; kept without a trailing slash."""
    text = _text(value)
    if not text:
        return ""
    if not isinstance(text, str):
        raise ValueError("not a URL")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError("must be an http(s) URL such as https://sync.example.com")
    return text.rstrip("/")


Text = Annotated[str, BeforeValidator(_text)]
PublicUrl = Annotated[str, BeforeValidator(_public_url)]


def _positive(value: Any) -> Any:
    number = _number(value)
    if not number > 0:
        raise ValueError("must be above 0")
    return number


def _port(value: Any) -> Any:
    number = _whole(value)
    if not 0 <= number <= 65535:
        raise ValueError("not a port (0..65535)")
    return number


DATABASE_SCHEMES = ("sqlite:///PATH", "postgresql://…", "postgres://…", "postgresql+psycopg://…")


def _database_url(value: Any) -> Any:
    """Empty (the embedded default) or a URL of a database the service supports."""
    url = _text(value)
    if url and not (
        url.startswith(("sqlite:///", "postgresql://", "postgres://", "postgresql+psycopg://"))
        or url == "sqlite://"
    ):
        scheme = url.split(":", 1)[0] if ":" in url else url
        raise ValueError(f"unsupported scheme {scheme!r}; supported: {', '.join(DATABASE_SCHEMES)}")
    return url


def _channel_list(value: Any) -> Any:
    """ "1, 2" -> (1, 2); empty -> ()."""
    if isinstance(value, (list, tuple)):
        return tuple(_whole(v) for v in value)
    parts = [p.strip() for p in str(_text(value) or "").split(",") if p.strip()]
    try:
        out = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError("not a comma-separated list of channel ids") from None
    if any(c <= 0 for c in out) or len(set(out)) != len(out):
        raise ValueError("channel ids must be distinct positive numbers")
    return out


def _store_id_map(value: Any) -> Any:
    """ "1=www.example.co.uk,2=www.example.fr" -> {1: "www.example.co.uk", 2: "www.example.fr"}."""
    if isinstance(value, dict):
        return {_whole(k): str(v) for k, v in value.items()}
    out: dict[int, str] = {}
    for part in (p.strip() for p in str(_text(value) or "").split(",")):
        if not part:
            continue
        channel, sep, store = part.partition("=")
        if not sep or not channel.strip().isdigit() or not store.strip():
            raise ValueError("expected channel=store id pairs, e.g. 1=www.example.co.uk,2=www.example.fr")
        out[int(channel)] = store.strip()
    return out


def _names(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(p.strip() for p in str(_text(value) or "").split(",") if p.strip())


PositiveNumber = Annotated[float, BeforeValidator(_positive)]
Port = Annotated[int, BeforeValidator(_port)]
DatabaseUrl = Annotated[str, BeforeValidator(_database_url)]
Number = Annotated[float, BeforeValidator(_number)]
Whole = Annotated[int, BeforeValidator(_whole)]
