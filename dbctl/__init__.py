"""dbctl: a developer CLI for the life of a PostgreSQL database behind a Python service."""

__version__ = "0.1.0"
