"""One statement's table accesses, from its sqlglot tree (postgres dialect).

Aliases, schema-qualified names, CTEs, derived tables, subqueries (``IN (SELECT ...)``,
``EXISTS``, correlated ones) and views (expanded from their definition in the catalog) are
resolved to base tables. A derived table, or a CTE PostgreSQL inlines (read once or ``NOT
MATERIALIZED``, not recursive, no volatile function), passes a filter on one of its plain
output columns (``*`` included) through to its base table, as PostgreSQL pushes it down; a
CTE computed apart, or a query with a LIMIT, does not. A cast of a column to its own type
is the column; a subquery correlated with a scope's tables is not constant for it, and
never becomes an index expression. UPDATE and DELETE are read as the
SELECT of the rows they touch. Only the analysis of one tree is here; parsing and the
sources of statements are in ``dbctl.access.analyze``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.scope import Scope, traverse_scope

from dbctl.access.model import Reason, SortKey, TableAccess, Unservable
from dbctl.pg.identifiers import quote_ident
from dbctl.rules.indexing import qualified_sql
from dbctl.schema.catalog import Catalog, Table

Resolved = tuple[int, str]  # (id of the base table's exp.Table node, column name)
_RANGE = (exp.GT, exp.GTE, exp.LT, exp.LTE)
SYSTEM_COLUMNS = frozenset({"ctid", "xmin", "xmax", "cmin", "cmax", "tableoid"})


@dataclass
class _Use:
    """What is collected for one base-table occurrence, in statement order."""

    table: str
    equality: list[str] = field(default_factory=list)
    in_lists: list[str] = field(default_factory=list)
    nulls: list[str] = field(default_factory=list)
    ranges: list[str] = field(default_factory=list)
    joins: list[str] = field(default_factory=list)
    sort: tuple[SortKey, ...] = ()
    limit: bool = False
    group: tuple[str, ...] = ()
    unservable: list[Unservable] = field(default_factory=list)
    write: bool = False
    prefixes: list[str] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    literals: list[tuple[str, str]] = field(default_factory=list)  # column = 'constant'
    partners: dict[int, list[str]] = field(default_factory=dict)  # joined table -> columns
    all_columns: bool = False  # a * or a whole-row reference: ``reads`` is unknown

    def access(self) -> TableAccess:
        def unique(items: Iterable[str]) -> tuple[str, ...]:
            return tuple(dict.fromkeys(items))

        return TableAccess(
            table=self.table,
            equality=unique(self.equality),
            in_lists=unique(self.in_lists),
            nulls=unique(self.nulls),
            ranges=unique(c for c in self.ranges if c not in self.equality),
            joins=unique(self.joins),
            sort=self.sort,
            limit=self.limit,
            group=self.group,
            unservable=tuple(dict.fromkeys(self.unservable)),
            write=self.write,
            prefixes=unique(c for c in self.prefixes if c not in self.equality),
            reads=None if self.all_columns or self.write else unique(self.reads),
            literals=tuple(dict.fromkeys(self.literals)),
            join_sets=tuple(
                dict.fromkeys(tuple(sorted(set(columns))) for columns in self.partners.values())
            ),
        )


def as_select(tree: exp.Expr) -> tuple[exp.Expr | None, exp.Table | None]:
    """The query whose accesses matter, and the written table for UPDATE / DELETE."""
    if isinstance(tree, exp.Update | exp.Delete):
        target = tree.this
        if not isinstance(target, exp.Table):
            return None, None
        # Built node by node: the builder helpers would parse "1" and copy every subtree.
        joins: list[exp.Expr] = []
        if isinstance(tree, exp.Update) and tree.args.get("from_") is not None:
            joins = [tree.args["from_"].this, *tree.args.get("joins", [])]
        if isinstance(tree, exp.Delete):
            joins = list(tree.args.get("using") or [])
        select = exp.Select(
            expressions=[exp.Literal.number(1)],
            from_=exp.From(this=target),
            joins=[j if isinstance(j, exp.Join) else exp.Join(this=j) for j in joins] or None,
            where=tree.args.get("where"),
            with_=tree.args.get("with_"),
        )
        return select, target
    if isinstance(tree, exp.Insert):
        query = tree.expression
        return (query, None) if isinstance(query, exp.Query) else (None, None)
    if isinstance(tree, exp.Query):
        return tree, None
    return None, None


class Extractor:
    """Collects the accesses of one statement against a catalog."""

    def __init__(
        self,
        catalog: Catalog,
        search_path: tuple[str, ...] = ("public",),
        tables: dict[tuple[str, str], Table | None] | None = None,
        has_views: bool | None = None,
    ) -> None:
        self.catalog = catalog
        self.search_path = search_path
        # Name lookups, shareable across the statements of one catalog.
        self.tables: dict[tuple[str, str], Table | None] = {} if tables is None else tables
        if has_views is None:
            has_views = any(t.kind == "view" for t in catalog.tables.values())
        self.has_views = has_views
        self.uses: dict[int, _Use] = {}
        self.unknown: list[str] = []
        self.scopes: dict[int, Scope] = {}  # by id of each scope's expression
        # Memos of one statement: its predicates, sort, grouping and read columns ask about
        # the same nodes again and again. Keyed by id, each entry holds its nodes, so that
        # no id is reused by another node while the entry lives.
        self._tables: dict[int, tuple[exp.Table, Table | None]] = {}
        self._found: dict[tuple[int, int], tuple[exp.Column, Scope, Any]] = {}
        self._resolved: dict[tuple[int, int], tuple[exp.Column, Scope, Resolved | None]] = {}
        self._ctes: dict[int, tuple[exp.CTE, bool]] = {}

    # -- tables --------------------------------------------------------------------

    def base_table(self, node: exp.Table) -> Table | None:
        known = self._tables.get(id(node))
        if known is not None:
            return known[1]
        key = (node.db, node.name)
        if key not in self.tables:
            name = f"{key[0]}.{key[1]}" if key[0] else key[1]
            self.tables[key] = self.catalog.table(name, self.search_path)
        self._tables[id(node)] = (node, self.tables[key])
        return self.tables[key]

    def expand_views(self, tree: exp.Expr, depth: int = 0) -> exp.Expr:
        """Replace each view by its definition, as a derived table under the same alias."""
        import sqlglot

        if depth > 4:
            return tree
        for node in list(tree.find_all(exp.Table)):
            table = self.base_table(node) if node.name else None
            if table is None or table.kind != "view" or not table.view_definition:
                continue
            try:
                body = sqlglot.parse_one(table.view_definition, read="postgres")
            except sqlglot.errors.ParseError:
                continue
            alias = node.alias or node.name
            node.replace(
                exp.Subquery(
                    this=self.expand_views(body, depth + 1),
                    alias=exp.TableAlias(this=exp.to_identifier(alias)),
                )
            )
        return tree

    def use(self, node: exp.Table) -> _Use:
        key = id(node)
        if key not in self.uses:
            table = self.base_table(node)
            assert table is not None
            self.uses[key] = _Use(table.qualified_name)
        return self.uses[key]

    # -- columns -------------------------------------------------------------------

    def _source_has(self, source: Any, name: str) -> bool:
        if isinstance(source, exp.Table):
            table = self.base_table(source)
            return table is not None and table.column(name) is not None
        if isinstance(source, Scope):
            selects = _selects(source)
            if any(s.alias_or_name == name for s in selects):
                return True
            return any(
                self._source_has(inner, name)
                for inner in _star_sources(source, selects)
                if inner is not source
            )
        return False

    def lookup(self, column: exp.Column, scope: Scope) -> tuple[Scope, Any] | None:
        """The scope that provides a column reference (this one or an outer one) and the
        source in it: a base table node or a derived scope."""
        key = (id(column), id(scope))
        known = self._found.get(key)
        if known is None:
            known = self._found[key] = (column, scope, self._lookup(column, scope))
        return known[2]

    def _lookup(self, column: exp.Column, scope: Scope) -> tuple[Scope, Any] | None:
        name, qualifier = column.name, column.table
        current: Scope | None = scope
        while current is not None:
            if qualifier:
                if qualifier in current.sources:
                    return current, current.sources[qualifier]
            else:
                sources = [source for _, source in current.selected_sources.values()]
                owners = [source for source in sources if self._source_has(source, name)]
                if len(owners) == 1:
                    return current, owners[0]
                unknown = any(
                    isinstance(s, exp.Table) and self.base_table(s) is None for s in sources
                )
                if owners or unknown:
                    return None  # ambiguous, or it may be a column of a table we don't know
            current = current.parent
        return None

    def bare(self, node: exp.Expr, scope: Scope) -> exp.Expr:
        """``node`` without parentheses and without casts that change nothing: a cast of a
        column to its own type (``created_on::date`` on a ``date``), or between types that
        are binary coercible (text and varchar), is the column itself for an index."""
        node = _bare(node)
        while isinstance(node, exp.Cast) and not isinstance(node, exp.TryCast):
            inner = _bare(node.this)
            if not isinstance(inner, exp.Column) or not self._same_type(inner, node.to, scope):
                return node
            node = inner
        return node

    def _same_type(self, column: exp.Column, to: exp.DataType, scope: Scope) -> bool:
        resolved = self.resolve(column, scope)
        use = self.uses.get(resolved[0]) if resolved is not None else None
        table = self.catalog.table(use.table) if use is not None else None
        found = table.column(resolved[1]) if table is not None and resolved else None
        return found is not None and _no_op_cast(found.type, to)

    def resolve(self, column: exp.Column, scope: Scope) -> Resolved | None:
        """The base table occurrence and column a column reference reads, if any."""
        key = (id(column), id(scope))
        known = self._resolved.get(key)
        if known is None:
            found = self.lookup(column, scope)
            resolved = None if found is None else self._through(found[1], column.name, set())
            known = self._resolved[key] = (column, scope, resolved)
        return known[2]

    def _through(self, source: Any, name: str, seen: set[tuple[int, str]]) -> Resolved | None:
        if isinstance(source, exp.Table):
            table = self.base_table(source)
            if table is None or name in SYSTEM_COLUMNS:
                return None  # PostgreSQL indexes no system column (ctid, xmin...)
            return id(source), name
        if isinstance(source, Scope):
            expression = source.expression
            cte = expression.parent if isinstance(expression.parent, exp.CTE) else None
            if cte is not None and not self._inlined(cte):
                return None  # a CTE computed once: filters stay outside
            if not isinstance(expression, exp.Select) or expression.args.get("limit"):
                return None  # a LIMIT stops the push-down; a UNION has no single source
            if (id(source), name) in seen:
                return None
            seen = seen | {(id(source), name)}
            selects = _selects(source)
            for projection in selects:
                if projection.alias_or_name != name:
                    continue
                inner = projection.this if isinstance(projection, exp.Alias) else projection
                if not isinstance(inner, exp.Column):
                    return None
                found = self.lookup(inner, source)
                if found is None or found[0] is not source:
                    return None  # an outer column (LATERAL, correlated): not this table's
                return self._through(found[1], inner.name, seen)
            # SELECT * / t.*: the column of the one source that has it
            owners = [s for s in _star_sources(source, selects) if self._source_has(s, name)]
            if len(owners) == 1:
                return self._through(owners[0], name, seen)
        return None

    def _inlined(self, cte: exp.CTE) -> bool:
        known = self._ctes.get(id(cte))
        if known is None:
            known = self._ctes[id(cte)] = (cte, _inlined(cte))
        return known[1]

    # -- statement ------------------------------------------------------------------

    def run(self, tree: exp.Expr, text: str | None = None) -> list[TableAccess]:
        """The accesses of ``tree`` (parsed from ``text``, when given: it tells cheaply
        whether any unquoted name is written in upper case)."""
        if text is None or _may_fold(text):
            # PostgreSQL folds unquoted names to lower case: SELECT ID FROM T is t.id
            normalize_identifiers(tree, dialect="postgres")
        query, target = as_select(tree)
        if query is None:
            return []
        if self.has_views:
            query = self.expand_views(query)
        for node in query.find_all(exp.Table):
            if not node.name:
                continue
            if self.base_table(node) is None:
                if not _is_cte_name(node) and not _is_system(node):
                    self.unknown.append(".".join(p for p in (node.db, node.name) if p))
                continue
            self.use(node)
        if target is not None:
            for node in query.find_all(exp.Table):
                if node.name == target.name and node.db == target.db and id(node) in self.uses:
                    self.uses[id(node)].write = True
                    break
        scopes = traverse_scope(query)
        self.scopes = {id(scope.expression): scope for scope in scopes}
        for scope in scopes:
            self.scope(scope)
        return [use.access() for use in self.uses.values()]

    def scope(self, scope: Scope) -> None:
        expression = scope.expression
        if not isinstance(expression, exp.Select):
            return
        conditions: list[exp.Expr] = []
        where = expression.args.get("where")
        if where is not None:
            conditions += _conjuncts(where.this)
        for join in expression.args.get("joins") or []:
            on = join.args.get("on")
            if on is not None:
                conditions += _conjuncts(on)
            self.using(join, scope)
        for condition in conditions:
            self.condition(condition, scope)
        self.order(expression, scope)
        self.grouping(expression, scope)
        self.reading(expression, scope)

    def using(self, join: exp.Join, scope: Scope) -> None:
        names = [ident.name for ident in join.args.get("using") or []]
        if not names:
            return
        right = join.this
        right_alias = right.alias_or_name
        left_sources = [a for a in scope.selected_sources if a != right_alias]
        for name in names:
            for alias in [right_alias, *left_sources]:
                source = scope.sources.get(alias)
                if source is not None and self._source_has(source, name):
                    self.add(self._through(source, name, set()), "joins")

    # -- predicates ----------------------------------------------------------------

    def add(self, resolved: Resolved | None, kind: str) -> None:
        if resolved is None:
            return
        use = self.uses.get(resolved[0])
        if use is not None:
            getattr(use, kind).append(resolved[1])

    def join(self, one: Resolved | None, other: Resolved | None) -> None:
        """``one = other``: a join column on each side, each noted against its partner
        (two columns joined to one table make a composite join key)."""
        self.add(one, "joins")
        self.add(other, "joins")
        if one is not None and other is not None:
            for this, that in ((one, other), (other, one)):
                use = self.uses.get(this[0])
                if use is not None:
                    use.partners.setdefault(that[0], []).append(this[1])

    def columns_in(self, node: exp.Expr, scope: Scope) -> list[Resolved]:
        found = []
        for column in node.find_all(exp.Column):
            resolved = self.resolve(column, scope)
            if resolved is not None:
                found.append(resolved)
        return found

    def local(self, node: exp.Expr, scope: Scope) -> bool:
        """Whether ``node`` reads a column of this scope's own tables, itself or through a
        correlated subquery (else it is constant for this scope: literals, parameters,
        outer columns, uncorrelated subqueries, which PostgreSQL runs once)."""
        for column in node.find_all(exp.Column):
            inner = scope
            select = column.find_ancestor(exp.Select)
            if select is not scope.expression:
                found_scope = self.scopes.get(id(select))
                if found_scope is None:
                    continue
                inner = found_scope
            found = self.lookup(column, inner)
            if found is not None and found[0] is scope:
                return True
        return False

    def condition(self, node: exp.Expr, scope: Scope) -> None:
        if isinstance(node, exp.Paren):
            self.condition(node.this, scope)
        elif isinstance(node, exp.EQ):
            self.equality(node, scope)
        elif isinstance(node, exp.In):
            self.in_list(node, scope)
        elif isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
            self.on_column(node.this, node, scope, "nulls")
            self.on_column(node.this, node, scope, "equality", unservable=False)
        elif isinstance(node, _RANGE):
            left, right = node.this, node.expression
            if self.local(right, scope) and not self.local(left, scope):
                left, right = right, left
            if not self.local(right, scope):
                self.on_column(left, node, scope, "ranges")
        elif isinstance(node, exp.Between):
            if not self.local(node.args["low"], scope) and not self.local(node.args["high"], scope):
                self.on_column(node.this, node, scope, "ranges")
        elif isinstance(node, exp.Like | exp.ILike):
            self.like(node, scope)
        elif isinstance(node, exp.ArrayContainsAll):
            self.containment(node, scope)
        elif isinstance(node, exp.Or):
            self.disjunction(node, scope)

    def equality(self, node: exp.EQ, scope: Scope) -> None:
        left, right = node.this, node.expression
        left_local, right_local = self.local(left, scope), self.local(right, scope)
        a, b = self.bare(left, scope), self.bare(right, scope)
        if left_local and right_local:
            if isinstance(a, exp.Column) and isinstance(b, exp.Column):
                ra, rb = self.resolve(a, scope), self.resolve(b, scope)
                if ra is None or rb is None or ra[0] != rb[0]:  # None: an unknown table
                    self.join(ra, rb)
            return
        if isinstance(a, exp.Column) and isinstance(b, exp.Column) and (left_local or right_local):
            # Correlated (inner.col = outer.col): a join key on both tables.
            self.join(self.resolve(a, scope), self.resolve(b, scope))
            return
        if right_local and not left_local:
            left, right = right, left
        if not left_local and not right_local:
            # Correlated: inner.col = outer.col is a join key of both tables.
            for side in (left, right):
                bare = self.bare(side, scope)
                if isinstance(bare, exp.Column):
                    self.add(self.resolve(bare, scope), "joins")
            return
        kind = "in_lists" if isinstance(right, exp.Any) else "equality"
        self.on_column(left, node, scope, kind)
        literal = _literal_text(self.bare(right, scope))
        column = self.bare(left, scope)
        if literal is not None and isinstance(column, exp.Column):
            resolved = self.resolve(column, scope)
            use = self.uses.get(resolved[0]) if resolved is not None else None
            if use is not None and resolved is not None:
                use.literals.append((resolved[1], literal))
        if kind == "in_lists":
            self.on_column(left, node, scope, "equality", unservable=False)

    def in_list(self, node: exp.In, scope: Scope) -> None:
        if node.args.get("query") is not None:
            bare = self.bare(node.this, scope)
            if isinstance(bare, exp.Column):
                self.add(self.resolve(bare, scope), "joins")
            query = node.args["query"]
            select = query.this if isinstance(query, exp.Subquery) else query
            if isinstance(select, exp.Select) and len(select.selects) == 1:
                inner = select.selects[0]
                inner = inner.this if isinstance(inner, exp.Alias) else inner
                inner_scope = _scope_of(select, scope)
                if isinstance(inner, exp.Column) and inner_scope is not None:
                    self.add(self.resolve(inner, inner_scope), "joins")
            return
        if any(self.local(value, scope) for value in node.expressions):
            return
        self.on_column(node.this, node, scope, "in_lists")
        self.on_column(node.this, node, scope, "equality", unservable=False)

    def like(self, node: exp.Like | exp.ILike, scope: Scope) -> None:
        pattern = node.expression
        if node.args.get("negate") or not isinstance(pattern, exp.Literal):
            return  # NOT LIKE: a negation no index serves (nor a pg_trgm one)
        if not pattern.is_string:
            return
        text = pattern.this
        resolved = self.operand(node.this, scope)
        if resolved is None:
            return
        if text[:1] in ("%", "_") or isinstance(node, exp.ILike):
            table = self.target_sql(self.uses[resolved[0]])
            remedy = (
                "CREATE EXTENSION IF NOT EXISTS pg_trgm; CREATE INDEX CONCURRENTLY "
                f"ON {table} USING gin ({quote_ident(resolved[1])} gin_trgm_ops);"
            )
            self.uses[resolved[0]].unservable.append(
                Unservable(
                    resolved[1], node.sql(dialect="postgres"), Reason.leading_wildcard, remedy
                )
            )
        else:  # a prefix: a range a btree serves under the C collation or a pattern opclass
            self.add(resolved, "ranges")
            self.add(resolved, "prefixes")

    def operand(self, node: exp.Expr, scope: Scope) -> Resolved | None:
        """The base-table column an operator's operand is (casts that change nothing and
        parentheses left out), if it is one of this statement's tables."""
        column = self.bare(node, scope)
        if not isinstance(column, exp.Column):
            return None
        resolved = self.resolve(column, scope)
        return resolved if resolved is not None and resolved[0] in self.uses else None

    def target_sql(self, use: _Use) -> str:
        """The table of a remedy, quoted as PostgreSQL needs it."""
        table = self.catalog.table(use.table)
        return use.table if table is None else qualified_sql(table)

    def containment(self, node: exp.ArrayContainsAll, scope: Scope) -> None:
        """``col @> constant`` (jsonb or an array): no btree serves it, a GIN index does
        (``jsonb_path_ops`` for jsonb: smaller, and made for ``@>``)."""
        if self.local(node.expression, scope):
            return
        resolved = self.operand(node.this, scope)
        if resolved is None:
            return
        use = self.uses[resolved[0]]
        table = self.catalog.table(use.table)
        found = table.column(resolved[1]) if table is not None else None
        if found is None:
            return  # the type decides the operator class: unknown, no advice
        kind = found.type.lower()
        if kind == "jsonb":
            key = f"{quote_ident(resolved[1])} jsonb_path_ops"
        elif kind.endswith("[]"):
            key = quote_ident(resolved[1])
        else:
            return
        remedy = f"CREATE INDEX CONCURRENTLY ON {self.target_sql(use)} USING gin ({key});"
        use.unservable.append(
            Unservable(resolved[1], node.sql(dialect="postgres"), Reason.containment, remedy)
        )

    def disjunction(self, node: exp.Or, scope: Scope) -> None:
        """``a = 1 OR a = 2`` (an IN list written out) is equality on ``a``."""
        branches = _disjuncts(node)
        targets = set()
        for branch in branches:
            if not isinstance(branch, exp.EQ | exp.In):
                return
            if isinstance(branch, exp.In) and branch.args.get("query") is not None:
                return
            left = self.bare(branch.this, scope)
            values = [branch.expression] if isinstance(branch, exp.EQ) else branch.expressions
            if any(self.local(v, scope) for v in values) or not isinstance(left, exp.Column):
                return
            targets.add(self.resolve(left, scope))
        if len(targets) == 1 and None not in targets:
            resolved = targets.pop()
            self.add(resolved, "equality")
            self.add(resolved, "in_lists")

    def on_column(
        self,
        side: exp.Expr,
        node: exp.Expr,
        scope: Scope,
        kind: str,
        *,
        unservable: bool = True,
    ) -> None:
        """Record ``kind`` on the column ``side`` is; a function of one column is unservable."""
        bare = self.bare(side, scope)
        if isinstance(bare, exp.Column):
            self.add(self.resolve(bare, scope), kind)
            return
        if not unservable or side.find(exp.Query, exp.Subquery):
            return  # PostgreSQL refuses a subquery in an index expression
        columns = self.columns_in(side, scope)
        if len({c[0] for c in columns}) != 1 or columns[0][0] not in self.uses:
            return
        key, name = columns[0]
        table = self.uses[key].table
        unqualified = side.copy()
        for column in unqualified.find_all(exp.Column):
            for part in ("table", "db", "catalog"):
                column.set(part, None)  # CREATE INDEX names the table once, no alias
        expression = unqualified.sql(dialect="postgres")
        remedy = f"CREATE INDEX CONCURRENTLY ON {table} (({expression}));"
        self.uses[key].unservable.append(
            Unservable(name, node.sql(dialect="postgres"), Reason.function, remedy)
        )

    # -- order and grouping --------------------------------------------------------

    def order(self, select: exp.Select, scope: Scope) -> None:
        order = select.args.get("order")
        if order is None:
            return
        grouped = self._grouped(select, scope)
        if grouped is not None and len({table for table, _ in grouped}) > 1:
            return  # grouped over a join: no one table's index order is the groups' order
        keys: list[tuple[Resolved, SortKey]] = []
        for ordered in order.expressions:
            column = self.bare(ordered.this, scope)
            if isinstance(column, exp.Column) and not column.table:
                column = self._output(column, select, scope)
            if not isinstance(column, exp.Column):
                return
            resolved = self.resolve(column, scope)
            if resolved is None or (grouped is not None and resolved not in grouped):
                return  # after an aggregate, only a grouping column's order is the input's
            nulls_first = ordered.args.get("nulls_first")
            keys.append(
                (resolved, SortKey(resolved[1], bool(ordered.args.get("desc")), nulls_first))
            )
        if not keys or len({key for (key, _), _ in keys}) != 1:
            return
        use = self.uses.get(keys[0][0][0])
        if use is not None and not use.sort:
            use.sort = tuple(sort for _, sort in keys)
            use.limit = select.args.get("limit") is not None or select.args.get("fetch") is not None

    def _output(self, column: exp.Column, select: exp.Select, scope: Scope) -> exp.Expr:
        """What an unqualified ORDER BY name sorts by: the output column of that name
        first (as PostgreSQL resolves it), else the input column."""
        for projection in select.selects:
            if isinstance(projection, exp.Alias) and projection.alias == column.name:
                return self.bare(projection.this, scope)
        return column

    def _grouped(self, select: exp.Select, scope: Scope) -> set[Resolved] | None:
        """The grouping columns when ``select`` aggregates (GROUP BY, or an aggregate
        outside a window: then an empty set, one row), else None."""
        group = select.args.get("group")
        aggregates = any(
            not isinstance(agg.parent, exp.Window) and agg.find_ancestor(exp.Select) is select
            for projection in select.selects
            for agg in projection.find_all(exp.AggFunc)
        )
        if group is None and not aggregates and select.args.get("having") is None:
            return None
        found = set()
        for node in group.expressions if group is not None else []:
            column = self.bare(node, scope)
            resolved = self.resolve(column, scope) if isinstance(column, exp.Column) else None
            if resolved is not None:
                found.add(resolved)
        return found

    def grouping(self, select: exp.Select, scope: Scope) -> None:
        group = select.args.get("group")
        if group is None:
            return
        resolved = []
        for node in group.expressions:
            column = self.bare(node, scope)
            if not isinstance(column, exp.Column):
                return
            found = self.resolve(column, scope)
            if found is None:
                return
            resolved.append(found)
        if resolved and len({key for key, _ in resolved}) == 1:
            use = self.uses.get(resolved[0][0])
            if use is not None:
                use.group = tuple(dict.fromkeys(name for _, name in resolved))

    def reading(self, select: exp.Select, scope: Scope) -> None:
        """Every column this scope reads, on the base table it comes from (``reads``);
        a ``*``, ``t.*`` or whole-row reference makes its sources' reads unknown."""
        for source in _star_sources(scope, list(select.selects)):
            self._all_columns(source)
        for column in scope.columns:
            if isinstance(column.this, exp.Star):
                continue
            resolved = self.resolve(column, scope)
            if resolved is not None:
                self.add(resolved, "reads")
            elif not column.table and column.name in scope.sources:
                self._all_columns(scope.sources[column.name])  # a whole-row reference

    def _all_columns(self, source: Any) -> None:
        nodes = [source] if isinstance(source, exp.Table) else []
        if isinstance(source, Scope):
            nodes = list(source.expression.find_all(exp.Table))
        for node in nodes:
            use = self.uses.get(id(node))
            if use is not None:
                use.all_columns = True


_QUOTED_OR_COMMENT = re.compile(
    r"(?=['\"/-])(?:'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/)", re.S
)
# ORDER BY and GROUP BY between white space are one keyword token each (sqlglot's keyword
# table has the pairs, not the words), never a name: left out of the words looked at.
_CLAUSES = re.compile(r"(?<!\S)(?:ORDER|GROUP)\s+BY(?!\S)")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


@functools.cache
def _known_words() -> frozenset[str]:
    """SQL keywords and function names, which a statement writes in upper case."""
    from sqlglot.dialects.postgres import Postgres

    words = {w for w in Postgres.Tokenizer.KEYWORDS if w.isidentifier()}
    words |= set(Postgres.Parser.FUNCTIONS)
    return frozenset(words)


def _may_fold(text: str) -> bool:
    """Whether ``text`` may hold an unquoted name with an upper-case letter (a word that
    is not a keyword or function name in upper case, outside strings, quoted names and
    comments): only then are the tree's names folded."""
    if text.islower():
        return False
    bare = text
    if "'" in text or '"' in text or "--" in text or "/*" in text:
        bare = _QUOTED_OR_COMMENT.sub(" ", bare)
    if "ORDER" in bare or "GROUP" in bare:
        bare = _CLAUSES.sub(" ", bare)
    # a known word in upper case is a keyword or a function name, not a name
    return any(not word.islower() for word in set(_WORD.findall(bare)) - _known_upper())


@functools.cache
def _known_upper() -> frozenset[str]:
    return frozenset(word for word in _known_words() if word.isupper())


def _literal_text(node: exp.Expr) -> str | None:
    """A constant as pg_stats prints it among the most common values (``'F'`` is F, true
    is t), or None for anything else (a parameter, an expression)."""
    if isinstance(node, exp.Boolean):
        return "t" if node.this else "f"
    if isinstance(node, exp.Literal):
        return str(node.this)
    return None


def _selects(scope: Scope) -> list[exp.Expr]:
    expression = scope.expression
    if isinstance(expression, exp.Select):
        return list(expression.selects)
    if isinstance(expression, exp.SetOperation):
        left = expression.left
        return list(left.selects) if isinstance(left, exp.Select) else []
    return []


_TEXT_TYPES = frozenset({exp.DataType.Type.TEXT, exp.DataType.Type.VARCHAR})


def _no_op_cast(column_type: str, to: exp.DataType) -> bool:
    """Whether casting a column of ``column_type`` (as ``format_type`` prints it) to ``to``
    is a no-op or a binary-coercible relabelling, which the planner looks through."""
    own = _data_type(column_type)
    if own is None:
        return False
    if to.expressions and to.expressions != own.expressions:
        return False  # a typmod change (varchar(10)) is a length-coercion call
    if own.this == to.this:
        if own.this == exp.DataType.Type.USERDEFINED:
            return own.sql(dialect="postgres").lower() == to.sql(dialect="postgres").lower()
        return True
    return own.this in _TEXT_TYPES and to.this in _TEXT_TYPES


@functools.cache
def _data_type(name: str) -> exp.DataType | None:
    try:
        return exp.DataType.build(name, dialect="postgres")
    except (ValueError, sqlglot.errors.ParseError):
        return None


def _star_sources(scope: Scope, selects: list[exp.Expr]) -> list[Any]:
    """The sources whose columns a ``*`` or ``t.*`` among ``selects`` projects."""
    found: list[Any] = []
    for projection in selects:
        if isinstance(projection, exp.Star):
            found += [source for _, source in scope.selected_sources.values()]
        elif isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
            source = scope.sources.get(projection.table)
            found += [source] if source is not None else []
    return list({id(source): source for source in found}.values())


# Functions PostgreSQL marks volatile that queries commonly call: a CTE calling one is
# not inlined (contain_volatile_functions), so it is computed apart from the outer filter.
VOLATILE = frozenset(
    {
        "random", "random_normal", "nextval", "setval", "currval", "lastval",
        "clock_timestamp", "timeofday", "statement_timestamp", "gen_random_uuid",
        "uuid_generate_v1", "uuid_generate_v4", "uuidv4", "uuidv7", "txid_current",
        "pg_advisory_lock", "pg_try_advisory_lock", "setseed", "dblink",
    }
)  # fmt: skip


def _inlined(cte: exp.CTE) -> bool:
    """Whether PostgreSQL (12+) inlines this CTE into the query that reads it: not
    recursive, without side effects (no data-modifying statement, no volatile function),
    and either ``NOT MATERIALIZED`` or, by default, referenced once."""
    materialized = cte.args.get("materialized")
    if materialized:
        return False
    body = cte.this
    if not isinstance(body, exp.Select) or body.find(exp.Insert, exp.Update, exp.Delete):
        return False
    for call in body.find_all(exp.Func):
        name = call.name if isinstance(call, exp.Anonymous) else call.sql_name()
        if name.lower() in VOLATILE or isinstance(call, exp.Rand):
            return False
    if any(t.name == cte.alias and not t.db for t in body.find_all(exp.Table)):
        return False  # recursive: it reads itself
    if materialized is None:
        with_ = cte.parent
        query = with_.parent if with_ is not None else None
        if query is None:
            return False
        refs = sum(1 for t in query.find_all(exp.Table) if t.name == cte.alias and not t.db)
        return refs == 1
    return True


def _scope_of(select: exp.Select, scope: Scope) -> Scope | None:
    for child in scope.subquery_scopes + scope.set_operation_scopes + scope.derived_table_scopes:
        if child.expression is select:
            return child
    return None


def _is_system(node: exp.Table) -> bool:
    """pg_catalog and information_schema relations: never advised, never unknown."""
    if node.db:
        return node.db in ("pg_catalog", "information_schema") or node.db.startswith("pg_")
    return node.name.startswith("pg_")


def _is_cte_name(node: exp.Table) -> bool:
    if node.db:
        return False
    for with_ in _ancestors_with(node):
        if any(cte.alias == node.name for cte in with_.expressions):
            return True
    return False


def _ancestors_with(node: exp.Expr) -> Iterator[exp.With]:
    current: exp.Expr | None = node
    while current is not None:
        with_ = current.args.get("with_") if isinstance(current, exp.Expr) else None
        if isinstance(with_, exp.With):
            yield with_
        current = current.parent


def _bare(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _conjuncts(node: exp.Expr) -> list[exp.Expr]:
    node = _bare(node)
    if isinstance(node, exp.And):
        return _conjuncts(node.this) + _conjuncts(node.expression)
    return [node]


def _disjuncts(node: exp.Expr) -> list[exp.Expr]:
    node = _bare(node)
    if isinstance(node, exp.Or):
        return _disjuncts(node.this) + _disjuncts(node.expression)
    return [node]
