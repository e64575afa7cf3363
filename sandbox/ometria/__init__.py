"""Simulated Ometria push API (one account), faithful to reference/FACTS.md, for tests and `bcsync sandbox`.

Routes (auth: header `X-Ometria-Auth` equal to the account's key, else 403):

- `POST /v2/push` — body a JSON array of 1..100 records of ONE `@type`. Checked synchronously, each failure
  a 4xx for the whole request: Content-Type must be JSON (415), body JSON (400 "Payload invalid: ..."),
  an array of 1..100 items, one `@type`, no record over `RECORD_MAX_BYTES` serialized
  ("Payload invalid: Record is too large."). Then 200 `{"status":"OK","request_id","accepted","rejected"}`:
  items that are not objects or have no usable `@type`/`id` are counted as rejected; the accepted ones are
  validated field by field the way Ometria does it asynchronously — an invalid record is NOT stored and
  leaves an entry in the error log instead (the response still counts it as accepted). For determinism the
  sandbox applies this "asynchronous" step before answering, so a client may read the effect at once.
  Rate: more than `push_rate` accepted pushes within any 1 s (sliding) → 429. Optional queue
  (`queue_limit` records, draining at `queue_drain_rate` records/s): every push answer then carries
  `X-QueueSize-Limit` and `X-QueueSize-Remaining`, and a push while the backlog is at the limit → 429.
- `GET /v2/push/_errors` — the latest 100 record errors, newest first:
  `[{"error_message","error_path","request_id","record_id","created"}]` (`error_path` like "root > price").
- `GET /v2/products?limit=10&offset=0&includeVariants=false&active=true|false` — a bare JSON array of
  product objects (the envelope of Ometria's documented "List Products": `200 OK: List of Product
  objects`, `limit` default 10 and at most 250, `offset` default 0, parents only unless
  `includeVariants=true`, optional `active` filter), in order of first creation, as stored after merges
  (without the `@merge` directive). `GET /v2/products/<id>` — one product, or 404.

Control routes (never rate-limited, faulted or counted): `GET /_sandbox/records`, `GET /_sandbox/stats`,
`POST /_sandbox/reset` (records, errors, stats, rate window, queue), `GET|POST /_sandbox/config`
(`push_rate`, `queue_limit`, `queue_drain_rate`, `api_key`; the key itself is never echoed), plus the
fault/counter routes of `sandbox.faults.install`.

Merge semantics: a record without `"@merge": true` replaces the stored record whole; with it, the sent
top-level fields overwrite the stored ones and unsent fields are kept (so `attributes`, `properties` and
`listings`, being single fields, are replaced wholesale).

Modules: `records` (limits and the field-by-field validation), `account` (`OmetriaAccount`: stored
records, error log, rate window, queue, statistics), `app` (`create_ometria_app`: the routes above).
"""

from sandbox.ometria.account import OmetriaAccount
from sandbox.ometria.app import create_ometria_app
from sandbox.ometria.records import (
    ERROR_LOG_SIZE,
    INVALID,
    MAX_RECORDS_PER_PUSH,
    PRODUCTS_DEFAULT_LIMIT,
    PRODUCTS_MAX_LIMIT,
    RECORD_MAX_BYTES,
    RECORD_TOO_LARGE,
    product_errors,
)

__all__ = [
    "ERROR_LOG_SIZE",
    "INVALID",
    "MAX_RECORDS_PER_PUSH",
    "PRODUCTS_DEFAULT_LIMIT",
    "PRODUCTS_MAX_LIMIT",
    "RECORD_MAX_BYTES",
    "RECORD_TOO_LARGE",
    "OmetriaAccount",
    "create_ometria_app",
    "product_errors",
]
