"""The schema as data, below everything that talks to PostgreSQL: the ``Catalog`` snapshot
(frozen dataclasses), its ``diff``, and the catalog read from DDL text (``ddl``). Pure:
nothing here opens a connection; ``dbctl.pg.catalog_loader`` fills a Catalog from a live
database, the rules and the advisor read one."""
