"""What rules know besides the catalog: where tables are defined, the naming convention,
the names the models spell out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dbctl.report import Location
from dbctl.schema.catalog import Table


@dataclass(frozen=True)
class RuleContext:
    locations: Mapping[str, Location] = field(default_factory=dict)
    naming_convention: Mapping[str, str] = field(default_factory=dict)
    # Per "schema.table": constraint and index names the models give explicitly (as
    # PostgreSQL stores them). SQLAlchemy applies no convention to them: not judged by it.
    explicit_names: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def location(self, table: Table) -> Location | None:
        return self.locations.get(table.qualified_name)

    def explicit(self, table: Table) -> frozenset[str]:
        """The names the models give the constraints and indexes of ``table`` explicitly."""
        return self.explicit_names.get(table.qualified_name, frozenset())


def is_plain_table(table: Table) -> bool:
    """A table that holds rows itself or through partitions (not a view, not a partition)."""
    return table.kind in ("table", "partitioned table") and table.partition_of is None
