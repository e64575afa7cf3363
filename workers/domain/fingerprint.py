"""Canonical fingerprints of Ometria records, and the delta against the ledger of what Ometria has.

A fingerprint is the BLAKE2b-128 hex digest of the record's canonical JSON: keys sorted, no
whitespace, UTF-8, and whole floats written as integers so `10`, `10.0` and `-0.0`/`0` agree.
Only the content matters: two records that would look the same to Ometria fingerprint the same,
whatever order their keys were built in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

_encode = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), check_circular=False
).encode


def canonical_json(record: Mapping[str, Any]) -> str:
    """The text that is hashed; exposed for debugging a surprising fingerprint."""
    try:
        return _encode(_normalise(record))
    except TypeError:  # a non-dict Mapping, a subclass, mixed key types, ...: the slow, general path
        return _encode(_plain(record))


def fingerprint(record: Mapping[str, Any]) -> str:
    return hashlib.blake2b(canonical_json(record).encode("utf-8"), digest_size=16).hexdigest()


def changed(records: Iterable[Mapping[str, Any]], ledger: Mapping[str, str]) -> list[tuple[Any, str]]:
    """(record, new fingerprint) for every record whose fingerprint differs from the ledger's for its id."""
    out = []
    for record in records:
        fp = fingerprint(record)
        if ledger.get(str(record["id"])) != fp:
            out.append((record, fp))
    return out


def _normalise(value: Any) -> Any:
    """`value` with whole floats as ints; copy-on-write, so a record without any is not copied at all."""
    kind = type(value)
    if kind is float:
        return int(value) if value.is_integer() else value
    if kind is dict:
        out = None
        for key, item in value.items():
            kind = type(item)
            if kind is str or item is None or kind is bool or kind is int:
                continue
            new = _normalise(item)
            if new is not item:
                if out is None:
                    out = dict(value)
                out[key] = new
        return value if out is None else out
    if kind is list or kind is tuple:
        copy = None
        for index, item in enumerate(value):
            kind = type(item)
            if kind is str or item is None or kind is bool or kind is int:
                continue
            new = _normalise(item)
            if new is not item:
                if copy is None:
                    copy = list(value)
                copy[index] = new
        return value if copy is None else copy
    raise TypeError(kind)  # anything else (Mapping, subclasses, ...) takes the general path


def _plain(value: Any) -> Any:
    """The slow path for unusual input: any Mapping / sequence / float subclass, non-string keys."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not isinstance(value, bool):
        return int(value) if value.is_integer() else float(value)
    return value
