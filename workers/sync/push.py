"""Pushing planned records to Ometria: ≤100 a request, each request's fingerprints recorded as it
is accepted, refused records bisected down to the record and set aside for the failed list."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from workers.clients.ometria import PushResult, RecordTooLargeError
from workers.domain import retry
from workers.domain.errors import PermanentError
from workers.sync import journal
from workers.sync.plan import Planned
from workers.sync.retrying import call_with_retries

if TYPE_CHECKING:
    from workers.sync.syncer import Syncer

log = logging.getLogger("workers.sync.flush")

PUSH_BATCH = 100  # Ometria's limit: records per push
PUSH_ATTEMPTS = retry.PUSH.attempts

Refused = tuple[dict, int, str]  # (record, product id, error)
REFUSED_LOCALLY = "refused locally, not sent"  # over Ometria's per-record limit: never reached Ometria


def push(
    sync: Syncer, planned: Sequence[Planned], token: str | None = None
) -> tuple[int, int, list[Refused]]:
    """Push in requests of ≤100, recording each accepted request's fingerprints at once.
    Records Ometria refuses (too large; a 400, bisected down to the record) come back as
    (record, product id, error) for the failed list; the rest of the batch still goes.
    With the claim `token`, each request first renews the lease of its products and leaves out
    those the claim no longer holds (a flush slower than its lease: another one has claimed
    them and fetched them afresh — pushing ours would overwrite newer data with older).
    Returns (records pushed, requests, refused)."""
    pushed = requests = 0
    sh = sync.store.store_hash
    bad: list[Refused] = []
    pending = [list(planned[i : i + PUSH_BATCH]) for i in range(0, len(planned), PUSH_BATCH)]
    while pending:
        chunk = pending.pop(0)
        if token is not None:
            held = sync.rows.renew(token, {pid for _r, _fp, pid in chunk}, sync.lease)
            if len(held) < len({pid for _r, _fp, pid in chunk}):
                log.warning(
                    "store %s: a flush outlived its lease; %d record(s) left to the flush "
                    "that claimed their products since",
                    sync.store.store_hash,
                    sum(1 for c in chunk if c[2] not in held),
                )
                chunk = [c for c in chunk if c[2] in held]
                if not chunk:
                    continue
        try:
            made, result = send(sync, [r for r, _fp, _pid in chunk])
            requests += made
        except RecordTooLargeError as exc:  # refused before sending: set those records aside
            too_big = set(exc.record_ids)
            refused = [c for c in chunk if c[0]["id"] in too_big]
            why = f"{REFUSED_LOCALLY}: {exc}"
            bad += [(r, pid, why) for r, _fp, pid in refused]
            journal.pushed(
                sync.db,
                sh,
                refused,
                request_id=None,
                accepted=False,
                batch=token,
                error=why,
                refused_locally=True,
            )
            rest = [c for c in chunk if c[0]["id"] not in too_big]
            pending[:0] = [rest] if rest else []
            continue
        except PermanentError as exc:
            requests += 1
            if len(chunk) == 1:
                bad.append((chunk[0][0], chunk[0][2], str(exc)))
                journal.pushed(
                    sync.db, sh, chunk, request_id=None, accepted=False, batch=token, error=str(exc)
                )
                continue
            half = len(chunk) // 2
            pending[:0] = [chunk[:half], chunk[half:]]
            continue
        pushed += len(chunk)
        record(sync, chunk)
        journal.pushed(
            sync.db,
            sh,
            chunk,
            request_id=result.request_id,
            accepted=True,
            accepted_count=result.accepted,
            rejected_count=result.rejected,
            batch=token,
        )
    return pushed, requests, bad


def send(sync: Syncer, records: list[dict]) -> tuple[int, PushResult]:
    """One push, retried in place by `retry.PUSH` on 429/5xx/timeouts so that Ometria's hiccups do
    not cost the batch (and a second BigCommerce fetch). Returns (requests made, Ometria's answer).
    (A 429 also paused the shared budget: the next try's acquire() waits for that too.)"""
    result, tries = call_with_retries(retry.PUSH, lambda: sync.ometria.push(records))
    return tries, result


def record(sync: Syncer, chunk: Sequence[Planned]) -> None:
    """The ledger learns what Ometria accepted: fingerprints, and each parent record's categories."""
    entries = [(r["id"], pid, fp, bool(r.get("is_active"))) for r, fp, pid in chunk]
    categories = {
        r["id"]: [int(a["id"]) for a in r.get("attributes") or () if a.get("type") == "category"]
        for r, _fp, _pid in chunk
        if not r.get("is_variant")
    }
    sync.rows.record_pushed(entries, categories)


def record_refused(sync: Syncer, bad: Sequence[Refused]) -> None:
    """Records Ometria refused for good go to the failed list, one entry each."""
    for rec, pid, error in bad:
        if error.startswith(REFUSED_LOCALLY):
            message = f"record {rec['id']} {error}"
        else:
            message = f"Ometria refused record {rec['id']}: {error}"
        sync.rows.record_refused(rec["id"], pid, message)
