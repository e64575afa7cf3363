"""The state store: the SQLAlchemy models and engine (storage), the webhook intake's fast path
(intake), the failed-task list (failures) and the Alembic migrations (migrate, migrations/)."""
