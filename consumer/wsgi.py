"""The WSGI entry point for gunicorn: `gunicorn consumer.wsgi:app`."""

from consumer import create_app

app = create_app()
