"""A third diagnostic beside the ingest benchmark, never deployed: bare Flask plus the least a durable
answer can cost — no checks at all, the body stored as one row with one autocommit INSERT on a
connection each gunicorn thread keeps (`DATABASE_URL`, PostgreSQL), then 200. Nothing our receiver does
is in it, so its distance from bare Flask is what durability alone costs on this machine."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
from flask import Flask, Response, request
from sqlalchemy.engine import make_url

from workers.settings import get_settings
from workers.store.storage import postgres_url

app = Flask(__name__)
_local = threading.local()
_url = make_url(postgres_url(get_settings().database_url)).set(drivername="postgresql")


def _connection() -> psycopg.Connection[Any]:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = psycopg.connect(_url.render_as_string(hide_password=False), autocommit=True)
        conn.execute("CREATE TABLE IF NOT EXISTS bench_bare_inbox (body bytea NOT NULL)")
    return conn


@app.post("/webhooks/bigcommerce")
def receive() -> Response:
    _connection().execute("INSERT INTO bench_bare_inbox (body) VALUES (%s)", (request.get_data(),))
    return Response(b"", status=200)
