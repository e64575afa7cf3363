"""A diagnostic beside the ingest benchmark, never deployed: the real receiver (`consumer.wsgi:app`,
every check on) whose durable write is replaced by nothing — `record` answers "recorded" at once. Between
bare Flask and the real receiver it shows how much of the gap is our checks and how much the database."""

from __future__ import annotations

from consumer.wsgi import app

app.extensions["bcsync"].group_commit.record = lambda callback: True  # type: ignore[method-assign]
