"""GET /healthz, GET /readyz (database and broker, and which one failed) and GET /metrics (webhooks
by scope and outcome, ack latency, dirty rows; summed over processes in multiprocess mode).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from consumer import create_app
from tests.receiver import Receiver, make_receiver, store_config
from tests.services import redis_url
from workers.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def _settings(tmp_path: Path, database_url: str | None = None, broker_url: str = "filesystem://") -> Settings:
    store = store_config("healthstore")
    return Settings(
        stores={store.store_hash: store},
        database_url=database_url or f"sqlite:///{tmp_path / 'db.sqlite'}",
        broker_url=broker_url,
        var_dir=tmp_path / "var",
    )


def _broker_folder(settings: Settings) -> Path:
    from workers.settings import broker_folder

    return broker_folder(settings)


def test_healthz_answers_while_the_process_lives(tmp_path: Path) -> None:
    client = create_app(_settings(tmp_path, "postgresql://postgres@127.0.0.1:1/x")).test_client()
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_ok_with_the_embedded_database_and_broker(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _broker_folder(settings).mkdir(parents=True, exist_ok=True)
    response = create_app(settings).test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


def test_readyz_ok_with_redis(tmp_path: Path) -> None:
    response = create_app(_settings(tmp_path, broker_url=redis_url())).test_client().get("/readyz")
    assert response.status_code == 200, response.get_json()


def test_readyz_503_names_the_database_when_it_is_unreachable(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "postgresql://bcsync:db-password-123@127.0.0.1:1/nowhere")
    _broker_folder(settings).mkdir(parents=True, exist_ok=True)
    response = create_app(settings).test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"].startswith("unavailable") and body["checks"]["broker"] == "ok"
    assert "db-password-123" not in response.get_data(as_text=True)


def test_readyz_503_names_the_broker_when_it_is_unreachable(tmp_path: Path) -> None:
    for broker_url in ("redis://:broker-password-123@127.0.0.1:1/0", "filesystem://"):  # folder missing
        response = create_app(_settings(tmp_path, broker_url=broker_url)).test_client().get("/readyz")
        assert response.status_code == 503, broker_url
        assert response.get_json()["checks"]["database"] == "ok"
        assert response.get_json()["checks"]["broker"].startswith("unavailable")
        assert "broker-password-123" not in response.get_data(as_text=True)


def _samples(client: object, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    text = client.get("/metrics").get_data(as_text=True)  # type: ignore[attr-defined]
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def _value(samples: dict[tuple[tuple[str, str], ...], float], **labels: str) -> float:
    return samples.get(tuple(sorted(labels.items())), 0.0)


def test_metrics_count_webhooks_by_scope_and_outcome(tmp_path: Path) -> None:
    receiver: Receiver = make_receiver(f"sqlite:///{tmp_path / 'db.sqlite'}")
    response = receiver.client.get("/metrics")
    assert response.status_code == 200 and response.content_type.startswith("text/plain")
    before = _samples(receiver.client, "bcsync_webhooks_total")
    latency_before = _value(_samples(receiver.client, "bcsync_webhook_ack_seconds_count"), outcome="recorded")
    for product_id in (1, 2, 2):
        assert receiver.post(receiver.callback(data={"type": "product", "id": product_id})).status_code == 200
    assert receiver.post(receiver.callback("store/order/created")).status_code == 200
    assert receiver.post(receiver.callback(), headers={}).status_code == 401
    assert receiver.post(receiver.callback(data={"id": "1"})).status_code == 400
    after = _samples(receiver.client, "bcsync_webhooks_total")

    def delta(**labels: str) -> float:
        return _value(after, **labels) - _value(before, **labels)

    assert delta(scope="store/product/updated", outcome="recorded") == 3
    assert delta(scope="store/order/created", outcome="ignored") == 1
    assert delta(scope="unknown", outcome="unauthorized") == 1
    assert delta(scope="unknown", outcome="bad_request") == 1
    latency_after = _value(_samples(receiver.client, "bcsync_webhook_ack_seconds_count"), outcome="recorded")
    assert latency_after - latency_before == 3
    dirty = _samples(receiver.client, "bcsync_dirty_rows")
    assert _value(dirty, store=receiver.store_hash, entity="product") == 2


MULTIPROCESS_WEB = textwrap.dedent("""
    # Like gunicorn: import once, fork two workers; each answers one webhook; then scrape.
    import os, sys
    from consumer import create_app
    from workers.settings import Settings, StoreConfig

    store = StoreConfig(store_hash="mp", webhook_secret="mp-secret")
    settings = Settings(stores={"mp": store}, database_url=sys.argv[1], broker_url="filesystem://")
    client = create_app(settings, publish=lambda s: None).test_client()

    def answer(category_id):
        body = {"scope": "store/category/updated", "producer": "stores/mp", "data": {"id": category_id}}
        response = client.post("/webhooks/bigcommerce", json=body, headers={"X-Webhook-Secret": "mp-secret"})
        assert response.status_code == 200

    for category_id in (1, 2):
        pid = os.fork()
        if pid == 0:
            answer(category_id)
            os._exit(0)
        assert os.waitpid(pid, 0)[1] == 0
    print(client.get("/metrics").get_data(as_text=True))
""")


def test_metrics_sum_over_processes_in_multiprocess_mode(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", MULTIPROCESS_WEB, f"sqlite:///{tmp_path / 'db.sqlite'}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    counts = [
        sample.value
        for family in text_string_to_metric_families(done.stdout)
        for sample in family.samples
        if sample.name == "bcsync_webhooks_total"
        and sample.labels == {"scope": "store/category/updated", "outcome": "recorded"}
    ]
    assert counts == [2.0], done.stdout[-1500:]  # the scraping process answered none of them itself
    assert len([p for p in metrics_dir.iterdir() if p.name.startswith("counter_")]) == 2


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_probes_need_no_authentication(tmp_path: Path, path: str) -> None:
    settings = _settings(tmp_path)
    _broker_folder(settings).mkdir(parents=True, exist_ok=True)
    assert create_app(settings).test_client().get(path).status_code == 200
