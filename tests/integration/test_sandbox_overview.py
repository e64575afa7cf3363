"""The sandbox Ometria's page for people (what `make run` points a newcomer at)."""

from __future__ import annotations

import requests

from sandbox.server import start_sandbox


def test_the_overview_lists_the_latest_records_escaped() -> None:
    with start_sandbox(products=10) as sb:
        pushed = requests.post(
            f"{sb.ometria_url}/v2/push",
            json=[{"@type": "product", "id": "42", "title": "<b>Mug</b>", "price": 9.5, "is_active": True}],
            headers={"X-Ometria-Auth": sb.ometria_key},
            timeout=10,
        )
        assert pushed.status_code == 200
        page = requests.get(f"{sb.ometria_url}/", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "1 product records stored" in page.text
    assert "&lt;b&gt;Mug&lt;/b&gt;" in page.text and "<b>Mug</b>" not in page.text
