"""/v3/storefront/api-token: a signed storefront token (JWT, HS256 with the client secret)."""

from __future__ import annotations

import hashlib
import hmac
import json

from flask import Blueprint, Response

from sandbox.bigcommerce_api.http import V3, ApiError, b64url, body_object, json_response
from sandbox.store import Store


def storefront_blueprint(store: Store, client_id: str, client_secret: str) -> Blueprint:
    bp = Blueprint("storefront", __name__, url_prefix=V3)

    @bp.post("/storefront/api-token")
    def storefront_token(store_hash: str) -> Response:
        body = body_object()
        errors: dict[str, str] = {}
        channel_ids = body.get("channel_ids")
        if "channel_id" in body:
            channel_ids = [body["channel_id"]]
        if (
            not isinstance(channel_ids, list)
            or not channel_ids
            or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in channel_ids)
        ):
            errors["channel_id"] = "channel_id must be a positive integer"
        elif any(c not in store.channel_ids() for c in channel_ids):
            errors["channel_id"] = "channel not found"
        expires_at = body.get("expires_at")
        if not isinstance(expires_at, int) or isinstance(expires_at, bool) or expires_at < 0:
            errors["expires_at"] = "expires_at must be a unix timestamp (integer seconds)"
        elif expires_at <= int(store.clock()):
            errors["expires_at"] = "expires_at must be in the future"
        origins = body.get("allowed_cors_origins", [])
        if (
            not isinstance(origins, list)
            or len(origins) > 2
            or not all(isinstance(o, str) and o for o in origins)
            or ("allowed_cors_origins" in body and not origins)
        ):
            errors["allowed_cors_origins"] = "allowed_cors_origins must hold 1 or 2 origins"
        if errors:
            raise ApiError(422, "Invalid JSON request body - missing or invalid data.", errors)
        now = int(store.clock())
        claims = {
            "cid": channel_ids,
            "cors": origins,
            "eat": expires_at,
            "iat": now,
            "iss": "BC",
            "sid": 1000001,
            "sub": client_id,
            "sub_type": 2,
            "token_type": 1,
        }
        head = b64url(json.dumps({"typ": "JWT", "alg": "HS256"}, separators=(",", ":")).encode())
        payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
        signature = b64url(
            hmac.new(client_secret.encode(), f"{head}.{payload}".encode(), hashlib.sha256).digest()
        )
        return json_response({"data": {"token": f"{head}.{payload}.{signature}"}, "meta": {}})

    return bp
