"""Alembic environment: the URL comes from the caller (workers.store.migrate), the models from storage."""

from alembic import context

from workers.store.storage import Base, get_engine

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "workers.store.migrate sets sqlalchemy.url"

with get_engine(url).connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
