"""The companion service of dbctl: a small shop API on FastAPI, SQLAlchemy 2 and psycopg 3."""
