"""Alembic's environment: migrations run on the connection the store hands over (never a URL
read from a file or the environment here)."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
