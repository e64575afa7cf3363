"""`bcsync doctor`'s storefront scope checks against a scripted BigCommerce on loopback (issue 12):
one call each, and a 403 names the scope to add to the store-level API account."""

from __future__ import annotations

from typing import Any

from workers.settings import StoreConfig


def test_doctor_checks_each_storefront_scope_with_one_call_and_names_the_missing_one() -> None:
    """A store-level API account without the Price Lists scope: that one check fails (several
    channels need it), naming the scope; the others pass, each after one call."""
    import json
    import threading

    from werkzeug.serving import make_server
    from werkzeug.wrappers import Request, Response

    from workers.clients.bigcommerce import BigCommerceClient
    from workers.ops.doctor import FAIL, OK, WARN, storefront_scope_checks

    calls: list[str] = []

    def app(environ: dict, start_response: Any) -> Any:
        path = Request(environ).path.split("/abc", 1)[1]
        calls.append(path)
        if path.startswith("/v3/pricelists"):
            body, status = {"status": 403, "title": "You don't have a required scope"}, 403
        elif path == "/v2/currencies":
            body, status = [{"currency_code": "GBP"}, {"currency_code": "EUR"}], 200
        else:
            body, status = {"data": [], "meta": {"pagination": {"total_pages": 1}}}, 200
        return Response(json.dumps(body), status, content_type="application/json")(environ, start_response)

    server = make_server("127.0.0.1", 0, app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        two = StoreConfig(store_hash="abc", access_token="t", api_url=url, channel_ids=(1, 2),
                          metafield_namespaces=("ometria",))  # fmt: skip
        checks = {c.name: c for c in storefront_scope_checks(BigCommerceClient(two), two)}
        assert [c.status for c in checks.values()] == [OK, OK, FAIL, OK]
        assert "HTTP 403" in checks["scope: price lists"].detail
        assert "Price Lists (read-only)" in checks["scope: price lists"].detail
        assert len(calls) == 4  # one call each
        one = StoreConfig(store_hash="abc", access_token="t", api_url=url)
        assert storefront_scope_checks(BigCommerceClient(one), one)[2].status == WARN  # one channel: optional
    finally:
        server.shutdown()
