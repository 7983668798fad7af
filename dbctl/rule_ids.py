"""Every rule id a dbctl finding may carry, with what it means: the one list (SARIF's
``shortDescription`` and ``help``, the README's rules, a test that no finding is made
with an id missing here). Pure data: the renderers import it without any cost."""

from __future__ import annotations

from typing import NamedTuple

# The ids the capture (in the application's process) and query-budget both make.
BUDGET_RULE = "query-budget-exceeded"
LOOPED_RULE = "looped-query"
SLO_RULE = "slo-breach"


class RuleDoc(NamedTuple):
    short: str  # one line: what was found
    help: str  # what to do about it


RULES: dict[str, RuleDoc] = {
    # -- lint-migrations (squawk's names where they mean the same) -------------------------
    "require-concurrent-index-creation": RuleDoc(
        "CREATE INDEX without CONCURRENTLY on an existing table blocks its writes",
        "Create it CONCURRENTLY in an autocommit_block (postgresql_concurrently=True).",
    ),
    "require-concurrent-index-deletion": RuleDoc(
        "DROP INDEX without CONCURRENTLY takes ACCESS EXCLUSIVE on the table",
        "Drop it CONCURRENTLY in an autocommit_block.",
    ),
    "ban-concurrent-index-creation-in-transaction": RuleDoc(
        "CREATE/DROP INDEX CONCURRENTLY inside a transaction: PostgreSQL refuses it",
        "Run it in op.get_context().autocommit_block().",
    ),
    "constraint-missing-not-valid": RuleDoc(
        "A FOREIGN KEY or CHECK added without NOT VALID scans the table under a lock",
        "Add it NOT VALID, then VALIDATE CONSTRAINT in a later revision.",
    ),
    "disallowed-unique-constraint": RuleDoc(
        "A UNIQUE or PRIMARY KEY constraint added without USING INDEX builds its index locked",
        "Create the unique index CONCURRENTLY, then ADD CONSTRAINT ... USING INDEX.",
    ),
    "adding-not-nullable-field": RuleDoc(
        "A NOT NULL column without a default, or SET NOT NULL, on an existing table",
        "Add a CHECK (col IS NOT NULL) NOT VALID, validate it, then SET NOT NULL.",
    ),
    "adding-field-with-default": RuleDoc(
        "A column added with a volatile default rewrites the table",
        "Add the column without the default, set the default, backfill in batches.",
    ),
    "adding-stored-generated-column": RuleDoc(
        "A STORED generated column added to an existing table rewrites it",
        "Add a plain column, backfill it in batches, keep it current from the code.",
    ),
    "changing-column-type": RuleDoc(
        "ALTER COLUMN TYPE rewrites the table and its indexes under ACCESS EXCLUSIVE",
        "Add a new column, backfill it, switch the code, drop the old one.",
    ),
    "renaming-column": RuleDoc(
        "Renaming a column breaks the code still running with the old name",
        "Add the new column, write both, backfill, switch readers, drop the old one later.",
    ),
    "renaming-table": RuleDoc(
        "Renaming a table breaks the code still running with the old name",
        "Create the new table (or a view with the old name) and move the code over first.",
    ),
    "ban-drop-column": RuleDoc(
        "Dropping a column breaks the code still reading it",
        "Stop reading the column in a deploy first; drop it in a later revision.",
    ),
    "ban-drop-table": RuleDoc(
        "Dropping a table breaks the code still using it",
        "Stop using the table in a deploy first; drop it in a later revision.",
    ),
    "adding-enum-value-in-transaction": RuleDoc(
        "ALTER TYPE ... ADD VALUE inside a transaction (refused before PostgreSQL 12)",
        "Run it in op.get_context().autocommit_block().",
    ),
    "require-timeout-settings": RuleDoc(
        "A revision takes ACCESS EXCLUSIVE on an existing table without a lock_timeout",
        "SET lock_timeout first in upgrade(): fail fast behind a long query, and retry.",
    ),
    "table-rewrite": RuleDoc(
        "A revision rewrites an existing table or its indexes (measured on a shadow)",
        "Use the pattern that avoids the rewrite, or run it in a maintenance window.",
    ),
    "lint-offline-sql": RuleDoc(
        "A revision's SQL could not be printed in Alembic's offline mode",
        "Make env.py's offline mode work (context.configure(url=..., literal_binds=True)).",
    ),
    "transaction-nesting": RuleDoc(
        "A revision begins or ends a transaction itself inside the one Alembic runs it in",
        "Run what must be outside a transaction in op.get_context().autocommit_block().",
    ),
    "lint-unparsed": RuleDoc(
        "A statement of a revision that PostgreSQL's parser does not accept",
        "Check the revision's SQL; it was not linted.",
    ),
    # -- migrate / migrate status ---------------------------------------------------------
    "pending-migration": RuleDoc(
        "A revision is not applied to the database",
        "Run dbctl migrate (or upgrade in the deploy) before the code that needs it.",
    ),
    "checksum-mismatch": RuleDoc(
        "An applied revision's file changed since it was applied",
        "Never edit an applied revision: restore it and put the change in a new revision.",
    ),
    "multiple-heads": RuleDoc(
        "The revision graph has more than one head",
        "Merge the heads (alembic merge) so that one upgrade reaches every change.",
    ),
    "unknown-revision": RuleDoc(
        "The database is at a revision the project's files do not have",
        "Deploy the code that holds the revision, or restore its file.",
    ),
    "invalid-index": RuleDoc(
        "An index is INVALID (a failed CREATE INDEX CONCURRENTLY)",
        "Drop it and create it again; the planner never uses it but writes still maintain it.",
    ),
    # -- verify-schema --------------------------------------------------------------------
    "migration-failed": RuleDoc(
        "A revision fails to upgrade from an empty database",
        "Fix the revision: a fresh environment (CI, a new developer) cannot be built.",
    ),
    "migration-not-idempotent": RuleDoc(
        "Running the upgrade again changes the schema",
        "Make the revision's operations depend on the revision, not on the database's state.",
    ),
    "downgrade-mismatch": RuleDoc(
        "A revision's downgrade does not return the schema it started from",
        "Make the downgrade undo exactly what the upgrade did (or raise, if it cannot).",
    ),
    "round-trip-skipped": RuleDoc(
        "The down/up round trip of some revisions was not checked",
        "Read the message: a failure before them stopped the check.",
    ),
    "schema-drift": RuleDoc(
        "The models and the migrated schema differ",
        "Write the revision that brings the schema to the models (or fix the models).",
    ),
    "verify-step-failed": RuleDoc(
        "A step of verify-schema could not run",
        "Read the message; the other steps' findings stand.",
    ),
    # -- schema rules ---------------------------------------------------------------------
    "missing-primary-key": RuleDoc(
        "A table has no primary key",
        "Add one: replication, ORMs and most tools need a row identity.",
    ),
    "unindexed-foreign-key": RuleDoc(
        "No index leads with a foreign key's columns",
        "Index them: a delete or key update of the referenced row scans the whole table.",
    ),
    "duplicate-index": RuleDoc(
        "An index is covered by another one",
        "Drop the narrower index: it costs writes and space and serves nothing more.",
    ),
    "naming-convention": RuleDoc(
        "A constraint or index name does not follow the project's convention",
        "Rename it, or name it in the models as the convention does.",
    ),
    # -- check-indexes --------------------------------------------------------------------
    "missing-index": RuleDoc(
        "A join, filter or sort of a real statement has no index to serve it",
        "Create the suggested index (CREATE INDEX CONCURRENTLY, or --write-migration).",
    ),
    "unservable-predicate": RuleDoc(
        "A predicate no plain btree can serve",
        "Use the remedy given: an expression index, pg_trgm, GIN, or rewrite the predicate.",
    ),
    "unused-index": RuleDoc(
        "An index no scan used during the statistics window, on this node",
        "Check the replicas' usage, then drop it: it costs every write.",
    ),
    "index-not-used": RuleDoc(
        "A suggestion the planner would not use, or that saves too little",
        "Nothing to do: it is left out of the advice, with its figures.",
    ),
    "over-budget": RuleDoc(
        "More indexes would pay than --max-indexes / --max-size allow",
        "Raise the budget, or keep the advice as it is: the best ones are suggested.",
    ),
    "not-validated": RuleDoc(
        "A suggestion the planner could not price",
        "The static advice stands; read why (a statement that could not be planned).",
    ),
    "hypopg-missing": RuleDoc(
        "HypoPG is not available: the advice is not priced by the planner",
        "Install the server package (postgresql-NN-hypopg) and CREATE EXTENSION hypopg.",
    ),
    "small-table": RuleDoc(
        "A table too small for an index to pay",
        "Nothing to do: a sequential scan of a few pages is the right plan.",
    ),
    "low-selectivity": RuleDoc(
        "A filter that keeps too large a share of the rows for an index to pay",
        "Nothing to do, or a partial index on the rare values if those are what is queried.",
    ),
    "existing-index-suffices": RuleDoc(
        "An existing index already narrows the rows enough",
        "Nothing to do: a wider index would save little.",
    ),
    "no-statistics": RuleDoc(
        "The advice is structural: table sizes and selectivity are not weighed",
        "Give --database-url of a database with data (or --rows TABLE=N).",
    ),
    "parse-error": RuleDoc(
        "A statement could not be analysed",
        "Read why; the other statements are analysed.",
    ),
    "unknown-table": RuleDoc(
        "A statement names a table the catalog does not have",
        "Give the schema that has it (--schema, --database-url), or ignore a temporary table.",
    ),
    "no-statements": RuleDoc(
        "The input holds no statement to analyse",
        "Check the files or the log given.",
    ),
    "skipped-input": RuleDoc(
        "Part of the input was skipped",
        "Read why (a log line that is not a record, a statement hidden from this role...).",
    ),
    # -- top-queries / query-budget -------------------------------------------------------
    "slo-breach": RuleDoc(
        "A statement's mean time (or an endpoint's p99 latency) is above the objective",
        "Look at its plan (EXPLAIN ANALYZE) and its index advice (--advise).",
    ),
    "query-budget-exceeded": RuleDoc(
        "A request ran more statements than its endpoint's budget",
        "Load what the request needs in fewer queries (joins, selectinload, batching).",
    ),
    "looped-query": RuleDoc(
        "The same statement ran more than once in one request (N+1)",
        "Fetch the rows in one query (IN list, join, selectinload) instead of one per item.",
    ),
    "empty-window": RuleDoc(
        "No request in the --since / --until window",
        "Nothing to judge: widen the window, or check that the service logs requests.",
    ),
}


def describe(rule: str) -> RuleDoc:
    """The rule's description; an id missing here (a bug, caught by a test) gets its id."""
    return RULES.get(rule, RuleDoc(rule, rule))
