"""POST one alert message (JSON) to ALERT_WEBHOOK_URL. A short timeout, no redirects followed (the
URL often carries a token, e.g. a chat webhook), and an error that never shows the URL."""

from __future__ import annotations

from typing import Any

import requests

TIMEOUT = (3.0, 5.0)


class AlertDeliveryError(RuntimeError):
    """The receiver did not take the message; the text names the cause, never the URL."""


def post_alert(url: str, payload: dict[str, Any], timeout: tuple[float, float] = TIMEOUT) -> None:
    try:
        resp = requests.post(
            url,
            json=payload,
            timeout=timeout,
            allow_redirects=False,
            headers={"User-Agent": "bcsync-alerts"},
        )
    except requests.RequestException as exc:
        raise AlertDeliveryError(f"alert receiver unreachable ({type(exc).__name__})") from None
    if not 200 <= resp.status_code < 300:
        raise AlertDeliveryError(f"alert receiver answered HTTP {resp.status_code}")
