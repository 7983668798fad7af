"""``unindexed-foreign-key``: the columns of every foreign key lead some index.

Without one, every delete or key update of the referenced row scans the referencing table,
and joins from the parent have nothing to use. A primary key or unique index that leads with
the columns counts.
"""

from __future__ import annotations

from dbctl.report import Finding, Severity
from dbctl.rules.context import RuleContext
from dbctl.rules.indexing import create_index_sql, lookup_served, taken_names, unique_index_name
from dbctl.schema.catalog import Catalog


def check(catalog: Catalog, context: RuleContext) -> list[Finding]:
    findings: list[Finding] = []
    taken = taken_names(catalog)
    for table in catalog.tables.values():
        if table.partition_of is not None:
            continue  # the partitioned parent carries the foreign key and its index
        for fk in table.foreign_keys:
            if lookup_served(table, fk.columns) is not None:
                continue
            columns = ", ".join(fk.columns)
            findings.append(
                Finding(
                    rule="unindexed-foreign-key",
                    severity=Severity.warning,
                    message=f"{table.qualified_name} references {fk.ref_qualified_name} on "
                    f"({columns}) but no index leads with those columns",
                    table=table.qualified_name,
                    columns=fk.columns,
                    suggestion=create_index_sql(
                        table, fk.columns, unique_index_name(table, fk.columns, taken)
                    ),
                    location=context.location(table),
                    evidence={"foreign_key": fk.name},
                )
            )
    return findings
