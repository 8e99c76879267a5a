"""Alembic environment: migrations run on the connection ``engine.persistence.schema`` hands in."""

from alembic import context

from engine.persistence.models import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")

if connection is None:
    raise RuntimeError("run migrations through `serviceflow setup`, which supplies the connection")

context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
