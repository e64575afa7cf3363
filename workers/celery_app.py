"""`celery -A workers.celery_app worker|beat` (Procfile, infra/): the app is built in workers.tasks.app."""

from workers.tasks.app import app

__all__ = ["app"]
