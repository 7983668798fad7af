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
