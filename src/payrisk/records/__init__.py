"""The credit desk's record: credit decisions, limit history and notes per customer, in a database
(SQLite by default, any SQLAlchemy URL), its schema kept by Alembic migrations."""
