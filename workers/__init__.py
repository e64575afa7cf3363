"""The sync core: settings, storage, the two API clients, mapping, diffing and the Celery tasks.

Nothing in this package imports Flask: `consumer/` builds on it, never the other way round.
"""
