"""The life of a schema: migrations, their verification, drift and design rules."""
