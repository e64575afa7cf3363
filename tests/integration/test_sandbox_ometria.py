"""The simulated Ometria push API (sandbox/ometria.py), spoken to over a real loopback HTTP server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from werkzeug.serving import WSGIRequestHandler, make_server

from sandbox.faults import Counters, Faults
from sandbox.ometria import RECORD_MAX_BYTES, RECORD_TOO_LARGE, OmetriaAccount, create_ometria_app

API_KEY = "test-ometria-key"


class QuietHandler(WSGIRequestHandler):
    """No access log: thousands of lines would cost more than the requests."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class Ometria:
    def __init__(self, base: str, account: OmetriaAccount, faults: Faults, counters: Counters) -> None:
        self.base, self.account, self.faults, self.counters = base, account, faults, counters

    def push(self, records: Any, key: str | None = API_KEY) -> requests.Response:
        headers = {"X-Ometria-Auth": key} if key is not None else {}
        return requests.post(f"{self.base}/v2/push", json=records, headers=headers, timeout=5)

    def push_raw(self, body: bytes, content_type: str) -> requests.Response:
        headers = {"X-Ometria-Auth": API_KEY, "Content-Type": content_type}
        return requests.post(f"{self.base}/v2/push", data=body, headers=headers, timeout=5)

    def get(self, path: str, key: str | None = API_KEY, **params: Any) -> requests.Response:
        headers = {"X-Ometria-Auth": key} if key is not None else {}
        return requests.get(f"{self.base}{path}", headers=headers, params=params, timeout=5)


@pytest.fixture
def ometria() -> Iterator[Ometria]:
    account = OmetriaAccount(API_KEY, push_rate=1000.0)
    faults, counters = Faults(seed=0), Counters()
    app = create_ometria_app(account, faults, counters)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Ometria(f"http://127.0.0.1:{server.server_port}", account, faults, counters)
    finally:
        server.shutdown()
        thread.join(5)


def product(pid: str, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "@type": "product",
        "id": pid,
        "sku": f"SKU-{pid}",
        "title": f"Product {pid}",
        "price": 10.0,
        "special_price": None,
        "currency": "GBP",
        "url": f"https://www.example.com/p/{pid}/",
        "image_url": None,
        "is_variant": False,
        "is_active": True,
        "is_in_stock": True,
        "attributes": [{"type": "category", "id": "18", "label": "Garden"}],
        "properties": {"material": "oak"},
        "listings": [
            {
                "store": "www.example.com",
                "title": f"Product {pid}",
                "price": 10.0,
                "special_price": None,
                "currency": "GBP",
                "url": f"https://www.example.com/p/{pid}/",
                "image_url": None,
                "is_active": True,
            }
        ],
    }
    record.update(fields)
    return record


def test_a_valid_push_is_stored_and_acknowledged(ometria: Ometria) -> None:
    response = ometria.push([product("1"), product("2")])
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "OK" and body["accepted"] == 2 and body["rejected"] == 0
    assert len(body["request_id"]) == 36
    records = requests.get(f"{ometria.base}/_sandbox/records", timeout=5).json()
    assert records == {"1": product("1"), "2": product("2")}


@pytest.mark.parametrize("key", [None, "", "wrong-key"])
def test_bad_or_missing_key_is_403_everywhere(ometria: Ometria, key: str | None) -> None:
    response = ometria.push([product("1")], key=key)
    assert response.status_code == 403
    assert response.json()["status"] == "ERROR"
    assert ometria.get("/v2/products", key=key).status_code == 403
    assert ometria.get("/v2/push/_errors", key=key).status_code == 403
    assert ometria.account.records == {}


def test_shape_errors(ometria: Ometria) -> None:
    valid = b'[{"@type":"product","id":"1"}]'
    assert ometria.push_raw(valid, "text/plain").status_code == 415
    assert ometria.push_raw(valid, "application/x-www-form-urlencoded").status_code == 415
    assert ometria.push_raw(valid, "application/json; charset=utf-8").status_code == 200
    ometria.account.reset()
    not_json = ometria.push_raw(b"[{", "application/json")
    assert not_json.status_code == 400 and not_json.json()["message"].startswith("Payload invalid")
    for body in ({"@type": "product", "id": "1"}, [], "product"):
        response = ometria.push(body)
        assert response.status_code == 400, body
        assert response.json()["message"].startswith("Payload invalid"), body
    assert ometria.account.records == {}


def test_at_most_100_records(ometria: Ometria) -> None:
    too_many = ometria.push([product(str(i)) for i in range(101)])
    assert too_many.status_code == 400
    assert ometria.account.records == {}
    exactly = ometria.push([product(str(i)) for i in range(100)])
    assert exactly.status_code == 200 and exactly.json()["accepted"] == 100
    assert len(ometria.account.records) == 100


def test_one_type_per_request(ometria: Ometria) -> None:
    mixed = ometria.push([product("1"), {"@type": "contact", "id": "c1", "email": "a@example.com"}])
    assert mixed.status_code == 400
    assert "@type" in mixed.json()["message"]
    assert ometria.account.records == {}


def test_too_large_record_is_rejected_with_the_exact_message(ometria: Ometria) -> None:
    big = product("big", properties={"blob": "x" * RECORD_MAX_BYTES})
    response = ometria.push([product("small"), big])
    assert response.status_code == 400
    assert response.json()["message"] == RECORD_TOO_LARGE == "Payload invalid: Record is too large."
    assert ometria.account.records == {}
    fits = product("fits", properties={"blob": "x" * (RECORD_MAX_BYTES - 2000)})
    assert ometria.push([fits]).status_code == 200
    assert set(ometria.account.records) == {"fits"}


def test_validation_is_asynchronous_errors_land_in_the_log(ometria: Ometria) -> None:
    response = ometria.push(
        [
            product("good"),
            product("bad-price", price="12.50"),
            product("bad-attribute", attributes=[{"type": "category", "id": "1"}]),
            product("bad-active", is_active="yes"),
            5,
            {"@type": "product", "title": "no id"},
        ]
    )
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 4 and body["rejected"] == 2
    assert set(ometria.account.records) == {"good"}

    errors = ometria.get("/v2/push/_errors").json()
    by_record = {e["record_id"]: e for e in errors if e["record_id"] is not None}
    assert by_record["bad-price"]["error_path"] == "root > price"
    assert by_record["bad-attribute"]["error_path"] == "root > attributes > 0 > label"
    assert by_record["bad-active"]["error_path"] == "root > is_active"
    assert all(e["request_id"] == body["request_id"] for e in errors)
    assert all(e["error_message"] and e["created"] for e in errors)
    assert len(errors) == 5  # three invalid records, two unusable items

    stats = requests.get(f"{ometria.base}/_sandbox/stats", timeout=5).json()
    assert (stats["accepted"], stats["rejected"], stats["invalid"], stats["stored"]) == (4, 2, 3, 1)


def test_error_log_keeps_the_latest_100_newest_first(ometria: Ometria) -> None:
    for batch in range(2):
        ometria.push([product(f"{batch}-{i}", price="bad") for i in range(60)])
    errors = ometria.get("/v2/push/_errors").json()
    assert len(errors) == 100
    assert errors[0]["record_id"] == "1-59"
    assert errors[-1]["record_id"] == "0-20"


def test_merge_keeps_unsent_fields_and_replaces_attributes_wholesale(ometria: Ometria) -> None:
    original = product(
        "7",
        attributes=[
            {"type": "category", "id": "1", "label": "A"},
            {"type": "category", "id": "2", "label": "B"},
        ],
    )
    ometria.push([original])
    brand = [{"type": "brand", "id": "9", "label": "Acme"}]
    ometria.push([{"@type": "product", "id": "7", "@merge": True, "price": 5.0, "attributes": brand}])
    merged = ometria.account.records["7"]
    assert merged == {**original, "price": 5.0, "attributes": brand}
    assert "@merge" not in merged

    ometria.push([{"@type": "product", "id": "7", "is_active": False, "@merge": True}])
    assert ometria.account.records["7"]["is_active"] is False
    assert ometria.account.records["7"]["title"] == "Product 7"

    ometria.push([{"@type": "product", "id": "7", "title": "Replaced"}])
    assert ometria.account.records["7"] == {"@type": "product", "id": "7", "title": "Replaced"}


def test_merge_of_an_unknown_record_creates_it(ometria: Ometria) -> None:
    ometria.push([{"@type": "product", "id": "gone", "is_active": False, "@merge": True}])
    assert ometria.account.records["gone"] == {"@type": "product", "id": "gone", "is_active": False}


def test_more_than_push_rate_per_second_is_429(ometria: Ometria) -> None:
    ometria.account.configure(push_rate=5)
    statuses = [ometria.push([product(str(i))]).status_code for i in range(12)]
    assert statuses == [200] * 5 + [429] * 7
    assert len(ometria.account.records) == 5
    time.sleep(1.05)
    assert ometria.push([product("later")]).status_code == 200
    stats = requests.get(f"{ometria.base}/_sandbox/stats", timeout=5).json()
    assert stats["rate_limited"] == 7 and stats["pushes"] == 6


def test_queue_headers_and_429_when_full(ometria: Ometria) -> None:
    config = requests.post(
        f"{ometria.base}/_sandbox/config", json={"queue_limit": 150, "queue_drain_rate": 0}, timeout=5
    ).json()
    assert config["queue_limit"] == 150 and "api_key" not in config
    first = ometria.push([product(str(i)) for i in range(100)])
    assert first.status_code == 200
    assert first.headers["X-QueueSize-Limit"] == "150"
    assert first.headers["X-QueueSize-Remaining"] == "50"
    second = ometria.push([product(f"b{i}") for i in range(100)])
    assert second.status_code == 200
    assert second.headers["X-QueueSize-Remaining"] == "0"
    full = ometria.push([product("c")])
    assert full.status_code == 429
    assert full.headers["X-QueueSize-Remaining"] == "0"
    assert "c" not in ometria.account.records

    ometria.account.configure(queue_drain_rate=2000)
    time.sleep(0.2)
    drained = ometria.push([product("c")])
    assert drained.status_code == 200
    assert int(drained.headers["X-QueueSize-Remaining"]) >= 149


def test_no_queue_headers_without_a_queue(ometria: Ometria) -> None:
    response = ometria.push([product("1")])
    assert "X-QueueSize-Limit" not in response.headers


def test_products_pagination_and_variants(ometria: Ometria) -> None:
    parents = [product(f"p{i:02d}") for i in range(30)]
    variants = [product(f"p{i:02d}-v", is_variant=True) for i in range(30)]
    for start in range(0, 30, 10):
        ometria.push(parents[start : start + 10] + variants[start : start + 10])

    default = ometria.get("/v2/products").json()
    assert [r["id"] for r in default] == [f"p{i:02d}" for i in range(10)]
    page = ometria.get("/v2/products", limit=10, offset=25).json()
    assert [r["id"] for r in page] == [f"p{i:02d}" for i in range(25, 30)]
    assert ometria.get("/v2/products", limit=10, offset=30).json() == []

    everything: list[dict] = []
    offset = 0
    while True:
        chunk = ometria.get("/v2/products", limit=25, offset=offset, includeVariants="true").json()
        everything += chunk
        if len(chunk) < 25:
            break
        offset += 25
    assert len(everything) == 60
    assert sum(1 for r in everything if r["is_variant"]) == 30
    assert everything[0] == parents[0]
    assert len(ometria.get("/v2/products", limit=250, includeVariants="false").json()) == 30

    ometria.push([{"@type": "product", "id": "p00", "is_active": False, "@merge": True}])
    inactive = ometria.get("/v2/products", limit=250, active="false").json()
    assert [r["id"] for r in inactive] == ["p00"]

    assert ometria.get("/v2/products", limit=251).status_code == 400
    assert ometria.get("/v2/products", limit="x").status_code == 400
    assert ometria.get("/v2/products/p05").json() == parents[5]
    assert ometria.get("/v2/products/nope").status_code == 404


def test_control_routes_reset_and_config(ometria: Ometria) -> None:
    ometria.push([product("1"), product("2", price="bad")])
    stats = requests.get(f"{ometria.base}/_sandbox/stats", timeout=5).json()
    assert stats["pushes"] == 1 and stats["records_received"] == 2 and stats["records"] == 1
    assert requests.post(f"{ometria.base}/_sandbox/reset", timeout=5).status_code == 200
    assert requests.get(f"{ometria.base}/_sandbox/records", timeout=5).json() == {}
    assert ometria.get("/v2/push/_errors").json() == []
    assert requests.get(f"{ometria.base}/_sandbox/stats", timeout=5).json()["pushes"] == 0

    bad = requests.post(f"{ometria.base}/_sandbox/config", json={"push_rate": -1}, timeout=5)
    assert bad.status_code == 400
    requests.post(f"{ometria.base}/_sandbox/config", json={"api_key": "rotated"}, timeout=5)
    assert ometria.push([product("1")]).status_code == 403
    assert ometria.push([product("1")], key="rotated").status_code == 200


def test_control_routes_are_not_faulted_or_counted(ometria: Ometria) -> None:
    ometria.faults.configure(rate=1.0, kinds=["503"])
    assert ometria.push([product("1")]).status_code == 503
    assert ometria.account.records == {}
    for path in ("/_sandbox/records", "/_sandbox/stats", "/_sandbox/config", "/_sandbox/counters"):
        assert requests.get(f"{ometria.base}{path}", timeout=5).status_code == 200, path
    assert requests.post(f"{ometria.base}/_sandbox/reset", timeout=5).status_code == 200
    assert ometria.counters.snapshot()["calls"] == {"POST /v2/push": {"503": 1}}


def test_a_truncated_answer_still_stored_the_records(ometria: Ometria) -> None:
    ometria.faults.configure(rate=1.0, kinds=["truncated"])
    response = ometria.push([product("1")])
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    assert set(ometria.account.records) == {"1"}
