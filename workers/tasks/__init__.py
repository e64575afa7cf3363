"""The Celery shell: the app (app), the tasks (jobs; their names stay `workers.tasks.<name>`), the
database-backed beat scheduler (beat), the hardened embedded broker (broker) and the debounced
wake-ups the receiver publishes (wake). `celery -A workers.celery_app` loads the app from here."""
