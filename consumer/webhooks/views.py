"""`POST /webhooks/bigcommerce`: BigCommerce's callbacks in, a dirty row on disk, then 200.

The checks, in order (the first that fails answers):
 1. size          413  over 64 KiB — Content-Length, and the bytes actually read (no Content-Length,
                       or a server that passes on more than it declares, cannot get more read)
 2. content type  415  not application/json (nor application/*+json)
 3. auth          401  on the raw bytes, per store (consumer.webhooks.auth), before any of the JSON is trusted
 4. JSON          400  not UTF-8 JSON
 5. envelope      400  scope / producer / data
 6. store         404  producer names a store not configured (reached only when authenticated)
 7. shape         400  handled scopes: the ids
 8. record        503  the database cannot be written (nothing half-recorded: one transaction)
 → 200, empty body. A replayed webhook-id and a scope we do not handle are 200 with nothing recorded.
Never a 500 for any input; every refusal is logged at INFO with status, reason and remote address.
"""

from __future__ import annotations

import logging
import re
import time

from flask import Blueprint, Request, Response, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from consumer.errors import Refusal, error_response
from consumer.metrics import observe_webhook
from consumer.runtime import current_runtime
from consumer.webhooks.auth import AuthenticationFailed
from consumer.webhooks.callbacks import CallbackError, change_for, parse_envelope, parse_json, store_hash_hint
from consumer.webhooks.recording import record_change

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
_JSON_TYPE = re.compile(r"application/([A-Za-z0-9.+-]+\+)?json")
_SCOPE_LABEL = re.compile(r"(?=.{1,64}$)store/[a-z_]+(/[a-z_]+){0,4}")  # bounded label values

blueprint = Blueprint("webhooks", __name__)


@blueprint.post("/webhooks/bigcommerce")
def receive() -> Response:
    started = time.perf_counter()
    scope_label, outcome = "unknown", "error"
    try:
        scope_label, outcome = _receive(request)
        return Response(b"", status=200)
    except Refusal as refusal:
        outcome = refusal.outcome
        log.info(
            "webhook refused: %s %s (%s) from %s",
            refusal.status,
            refusal.outcome,
            refusal.__cause__ or refusal.message,
            request.remote_addr,
        )
        return error_response(refusal.status, refusal.message)
    finally:
        observe_webhook(scope_label, outcome, time.perf_counter() - started)


def _receive(req: Request) -> tuple[str, str]:
    """(scope label, outcome) once acknowledged; Refusal otherwise."""
    runtime = current_runtime()
    body = read_body(req)
    require_json_type(req)
    parsed, json_problem = _parse_leniently(body)
    try:
        auth = runtime.authenticator.authenticate(req.headers, body, store_hash_hint(parsed))
    except AuthenticationFailed as exc:
        raise Refusal(401, "authentication failed") from exc
    try:
        if json_problem is not None:
            raise json_problem
        envelope = parse_envelope(parsed)
        store_hash = envelope.store_hash
        if runtime.settings.store(store_hash) is None:
            raise Refusal(404, f"unknown store {store_hash}")
        if store_hash not in auth.stores:  # authenticated as another store
            other_store = AuthenticationFailed("credentials of another store")
            raise Refusal(401, "authentication failed") from other_store
        label = envelope.scope if _SCOPE_LABEL.fullmatch(envelope.scope) else "other"
        change = change_for(envelope)
    except CallbackError as exc:
        raise Refusal(400, str(exc)) from None
    if change is None:
        log.debug("webhook scope %s ignored", label)
        return label, "ignored"
    return label, record_change(runtime, store_hash, change, auth.webhook_id, envelope.scope)


def read_body(req: Request) -> bytes:
    """At most MAX_BODY bytes, or Refusal(413); a body shorter than its Content-Length is a 400."""
    declared = req.content_length
    if declared is not None and declared > MAX_BODY:
        raise Refusal(413, f"body over {MAX_BODY} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        stream = req.stream
        while size <= MAX_BODY:
            chunk = stream.read(min(16384, MAX_BODY + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except RequestEntityTooLarge:
        raise Refusal(413, f"body over {MAX_BODY} bytes") from None
    except BadRequest:  # ClientDisconnected: fewer bytes than Content-Length said
        raise Refusal(400, "body shorter than its Content-Length") from None
    if size > MAX_BODY:
        raise Refusal(413, f"body over {MAX_BODY} bytes")
    if declared is not None and size != declared:
        raise Refusal(400, "body length differs from its Content-Length")
    return b"".join(chunks)


def require_json_type(req: Request) -> None:
    if not _JSON_TYPE.fullmatch(req.mimetype or ""):
        raise Refusal(415, "Content-Type must be application/json")


def _parse_leniently(body: bytes) -> tuple[object, CallbackError | None]:
    try:
        return parse_json(body), None
    except CallbackError as exc:
        return None, exc
