"""``missing-primary-key``: every table has a primary key."""

from __future__ import annotations

from dbctl.report import Finding, Severity
from dbctl.rules.context import RuleContext, is_plain_table
from dbctl.schema.catalog import Catalog


def check(catalog: Catalog, context: RuleContext) -> list[Finding]:
    return [
        Finding(
            rule="missing-primary-key",
            severity=Severity.error,
            message=f"{table.qualified_name} has no primary key",
            table=table.qualified_name,
            location=context.location(table),
        )
        for table in catalog.tables.values()
        if is_plain_table(table) and table.primary_key is None
    ]
