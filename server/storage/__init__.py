"""Storage on SQLAlchemy 2 async: SQLite (embedded default) or PostgreSQL, chosen by URL."""
