"""The ingest benchmark's baseline: a bare Flask endpoint that answers 200 with an empty body, served by
gunicorn with the same settings as the real receiver (`gunicorn bench.bare:app`). It does nothing with
the request: the gap between it and `consumer.wsgi:app` is what authenticating, validating and recording
a callback costs."""

from __future__ import annotations

from flask import Flask, Response

app = Flask(__name__)


@app.post("/webhooks/bigcommerce")
def receive() -> Response:
    return Response(b"", status=200)
