"""Fault injection and call counters of the sandbox (sandbox/faults.py), over a real loopback HTTP server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from flask import Flask, Request, Response, jsonify
from werkzeug.serving import WSGIRequestHandler, make_server

from sandbox.faults import FAULT_KINDS, Counters, Faults, install

PRODUCTS = {"data": [{"id": i, "name": f"Product {i}"} for i in range(1, 21)], "meta": {}}


class QuietHandler(WSGIRequestHandler):
    """No access log: thousands of lines would cost more than the requests."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class Served:
    def __init__(self, base: str, app: Flask, faults: Faults, counters: Counters, work: list[int]) -> None:
        self.base, self.app, self.faults, self.counters, self.work = base, app, faults, counters, work


def _endpoint_name(req: Request) -> str:
    return req.url_rule.rule if req.url_rule is not None else req.path


def _build_app(faults: Faults, counters: Counters, work: list[int]) -> Flask:
    app = Flask("faults-under-test")

    # A rate limiter of the simulated store adds its headers to every answer; registered before install().
    @app.after_request
    def rate_headers_before(response: Response) -> Response:
        response.headers["X-Rate-Limit-Requests-Left"] = "149"
        return response

    install(app, faults, counters, _endpoint_name)

    # ... and one registered after install(), to prove the fault wiring still has the last word.
    @app.after_request
    def rate_headers_after(response: Response) -> Response:
        response.headers["X-Rate-Limit-Time-Reset-Ms"] = "30000"
        return response

    @app.get("/catalog/products")
    def products() -> Response:
        return jsonify(PRODUCTS)

    @app.post("/work")
    def do_work() -> Response:
        work.append(1)
        return jsonify({"done": len(work)})

    return app


@pytest.fixture
def served() -> Iterator[Served]:
    faults, counters, work = Faults(seed=1), Counters(), []
    app = _build_app(faults, counters, work)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Served(f"http://127.0.0.1:{server.server_port}", app, faults, counters, work)
    finally:
        server.shutdown()
        thread.join(5)


def _only(served: Served, kind: str, **extra: object) -> None:
    served.faults.configure(rate=1.0, kinds=[kind], **extra)


@pytest.mark.parametrize("kind", ["500", "502", "503"])
def test_server_errors_happen_before_the_handler(served: Served, kind: str) -> None:
    _only(served, kind)
    response = requests.post(f"{served.base}/work", timeout=5)
    assert response.status_code == int(kind)
    assert response.json()["status"] == int(kind)
    assert served.work == []


def test_platform_429_has_no_rate_limit_headers_and_does_nothing(served: Served) -> None:
    clean = requests.get(f"{served.base}/catalog/products", timeout=5)
    assert clean.headers["X-Rate-Limit-Requests-Left"] == "149"
    _only(served, "429")
    response = requests.post(f"{served.base}/work", timeout=5)
    assert response.status_code == 429
    assert not [h for h in response.headers if h.lower().startswith("x-rate-limit")]
    assert "Retry-After" not in response.headers
    assert served.work == []


def test_slow_answers_late_but_correctly(served: Served) -> None:
    _only(served, "slow", slow_seconds=0.4)
    started = time.monotonic()
    response = requests.get(f"{served.base}/catalog/products", timeout=5)
    assert time.monotonic() - started >= 0.4
    assert response.status_code == 200
    assert response.json() == PRODUCTS


def test_timeout_outlasts_the_client_and_does_nothing(served: Served) -> None:
    _only(served, "timeout", timeout_seconds=0.8)
    with pytest.raises(requests.Timeout):
        requests.post(f"{served.base}/work", timeout=0.2)
    # A patient client sees the gateway's 504 once the hang ends.
    started = time.monotonic()
    response = requests.post(f"{served.base}/work", timeout=5)
    assert time.monotonic() - started >= 0.8
    assert response.status_code == 504
    time.sleep(0.8)  # let the abandoned first request finish on the server
    assert served.work == []
    assert served.counters.snapshot()["calls"]["POST /work"] == {"504": 2}


def test_truncated_body_after_the_work_is_done(served: Served) -> None:
    _only(served, "truncated")
    response = requests.get(f"{served.base}/catalog/products", timeout=5)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        json.loads(response.content)
    worked = requests.post(f"{served.base}/work", timeout=5)
    assert worked.status_code == 200
    with pytest.raises(ValueError):
        worked.json()
    assert served.work == [1]  # the handler ran; the client cannot know


def test_truncated_body_is_a_prefix_of_the_real_one(served: Served) -> None:
    real = requests.get(f"{served.base}/catalog/products", timeout=5).content
    _only(served, "truncated")
    cut = requests.get(f"{served.base}/catalog/products", timeout=5).content
    assert len(cut) < len(real)
    assert real.startswith(cut)


def test_garbage_is_200_and_not_json_after_the_work_is_done(served: Served) -> None:
    _only(served, "garbage")
    response = requests.post(f"{served.base}/work", timeout=5)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        json.loads(response.content)
    assert served.work == [1]


def test_paths_and_methods_restrict_the_faults(served: Served) -> None:
    served.faults.configure(rate=1.0, kinds=["503"], paths=r"^/work$", methods=["POST"])
    assert requests.get(f"{served.base}/catalog/products", timeout=5).status_code == 200
    assert requests.post(f"{served.base}/work", timeout=5).status_code == 503
    served.faults.configure(paths="", methods=["GET"])
    assert requests.get(f"{served.base}/catalog/products", timeout=5).status_code == 503
    assert requests.post(f"{served.base}/work", timeout=5).status_code == 200


def test_rate_is_respected_statistically_and_deterministic_for_a_seed() -> None:
    def plan(seed: int, n: int = 2000) -> list[str | None]:
        faults = Faults(seed=seed)
        faults.configure(rate=0.25)
        return [faults.decide("GET", "/catalog/products") for _ in range(n)]

    first = plan(7)
    faulted = [kind for kind in first if kind is not None]
    assert 400 <= len(faulted) <= 600  # 2000 * 0.25 = 500, ~4.6 standard deviations either side
    assert set(faulted) == set(FAULT_KINDS)  # uniform choice over the default kinds
    assert plan(7) == first
    assert plan(8) != first


def test_rate_over_http_with_a_seed(served: Served) -> None:
    served.faults.configure(rate=0.3, kinds=["500"], seed=3)
    statuses = [requests.get(f"{served.base}/catalog/products", timeout=5).status_code for _ in range(200)]
    assert 35 <= statuses.count(500) <= 85
    expected = Faults(seed=3)
    expected.configure(rate=0.3, kinds=["500"])
    assert statuses == [500 if expected.decide("GET", "/x") else 200 for _ in range(200)]


def test_counters_count_clean_and_faulted_calls(served: Served) -> None:
    for _ in range(3):
        requests.get(f"{served.base}/catalog/products", timeout=5)
    _only(served, "503")
    requests.get(f"{served.base}/catalog/products", timeout=5)
    requests.post(f"{served.base}/work", timeout=5)
    served.faults.configure(rate=0.0)
    requests.get(f"{served.base}/nowhere", timeout=5)
    snapshot = requests.get(f"{served.base}/_sandbox/counters", timeout=5).json()
    assert snapshot["calls"] == {
        "GET /catalog/products": {"200": 3, "503": 1},
        "POST /work": {"503": 1},
        "GET /nowhere": {"404": 1},
    }
    assert snapshot["total"] == 6
    assert snapshot["by_status"] == {"200": 3, "503": 2, "404": 1}
    assert snapshot["faults"] == {"503": 2}
    reset = requests.post(f"{served.base}/_sandbox/counters/reset", timeout=5).json()
    assert reset["total"] == 0 and reset["calls"] == {}


def test_sandbox_routes_are_exempt(served: Served) -> None:
    _only(served, "500")
    for _ in range(5):
        assert requests.get(f"{served.base}/_sandbox/faults", timeout=5).status_code == 200
        assert requests.get(f"{served.base}/_sandbox/counters", timeout=5).status_code == 200
    assert served.counters.snapshot()["total"] == 0


def test_configure_over_http_and_reject_invalid(served: Served) -> None:
    active = requests.post(
        f"{served.base}/_sandbox/faults", json={"rate": 0.5, "kinds": "500,slow"}, timeout=5
    ).json()
    assert active["rate"] == 0.5 and active["kinds"] == ["500", "slow"]
    assert requests.get(f"{served.base}/_sandbox/faults", timeout=5).json() == active
    for bad in (
        {"rate": 1.5},
        {"kinds": ["418"]},
        {"kinds": []},
        {"paths": "("},
        {"methods": ["FETCH"]},
        {"slow_seconds": -1},
        {"bogus": 1},
        {"rate": True},
    ):
        response = requests.post(f"{served.base}/_sandbox/faults", json=bad, timeout=5)
        assert response.status_code == 400, bad
        assert response.json()["error"]
        with pytest.raises(ValueError):
            Faults().configure(**bad)
    assert requests.get(f"{served.base}/_sandbox/faults", timeout=5).json() == active
    assert requests.delete(f"{served.base}/_sandbox/faults", timeout=5).json()["rate"] == 0.0
