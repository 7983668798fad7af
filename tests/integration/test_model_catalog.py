"""catalog_from_metadata against the real thing: for each shape of models, the catalog it
builds equals what load_catalog reads after metadata.create_all, string for string."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    DateTime,
    Double,
    Enum,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    Interval,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    Sequence,
    SmallInteger,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    Uuid,
    cast,
    func,
    literal_column,
    text,
)
from sqlalchemy.dialects import postgresql as pg

from dbctl.errors import ModelsFailed
from dbctl.lifecycle.model_catalog import ModelsNeedDatabase, catalog_from_metadata
from dbctl.lifecycle.models import create_schema
from dbctl.pg.catalog_loader import load_catalog
from dbctl.pg.connect import connect, create_engine
from dbctl.schema.diff import diff_catalogs

pytestmark = pytest.mark.integration


class Mood(enum.Enum):
    happy = "h"
    sad = "s"


def types_shape() -> MetaData:
    md = MetaData()
    Table(
        "everything",
        md,
        Column("id", Integer, primary_key=True),
        Column("s", String(200)),
        Column("s_plain", String),
        Column("t", Text),
        Column("n", Numeric(12, 2)),
        Column("n_plain", Numeric),
        Column("n_scale0", Numeric(5)),
        Column("f", Float),
        Column("f_prec", Float(precision=10)),
        Column("d", Double),
        Column("real", pg.REAL),
        Column("b", Boolean),
        Column("day", Date),
        Column("ts", DateTime),
        Column("tstz", DateTime(timezone=True)),
        Column("ts3", pg.TIMESTAMP(precision=3)),
        Column("tm", Time),
        Column("tmtz", Time(timezone=True)),
        Column("iv", Interval),
        Column("iv_fields", pg.INTERVAL(fields="DAY TO SECOND", precision=2)),
        Column("blob", LargeBinary),
        Column("u", Uuid),
        Column("u_pg", pg.UUID(as_uuid=False)),
        Column("j", JSON),
        Column("jb", pg.JSONB),
        Column("ints", ARRAY(Integer)),
        Column("grid", ARRAY(Integer, dimensions=2)),
        Column("names", ARRAY(String(20))),
        Column("big", BigInteger),
        Column("small", SmallInteger),
        Column("c5", pg.CHAR(5)),
        Column("bits", pg.BIT(3)),
        Column("inet", pg.INET),
        Column("cidr", pg.CIDR),
        Column("mac", pg.MACADDR),
        Column("money", pg.MONEY),
        Column("tsv", pg.TSVECTOR),
        Column("range", pg.INT4RANGE),
        Column("hstore_free", pg.OID),
        Column("c_collated", String(30, collation="C")),
        Column("t_posix", Text(collation="POSIX")),
        Column("mood", Enum(Mood, name="mood")),
        Column("moods", ARRAY(Enum(Mood, name="mood"))),
        Column("plain_enum", Enum("a", "b", name="plain_enum", native_enum=False)),
        Column("checked_enum", Enum("x", "y", native_enum=False, create_constraint=True)),
    )
    return md


def keys_shape() -> MetaData:
    md = MetaData()
    Table("serial_pk", md, Column("id", Integer, primary_key=True), Column("v", Text))
    Table("bigserial_pk", md, Column("id", BigInteger, primary_key=True))
    Table("smallserial_pk", md, Column("id", SmallInteger, primary_key=True))
    Table("identity_pk", md, Column("id", Integer, Identity(), primary_key=True))
    Table(
        "identity_always",
        md,
        Column("id", BigInteger, Identity(always=True, start=10, increment=5), primary_key=True),
        Column("other", Integer, Identity(), nullable=False),
    )
    Table(
        "composite_pk",
        md,
        Column("a", Integer, primary_key=True),
        Column("b", String(10), primary_key=True),
        Column("c", Integer),
    )
    Table(
        "explicit_pk",
        md,
        Column("a", Integer),
        Column("b", Integer, nullable=True),
        PrimaryKeyConstraint("b", "a", name="pk_explicit"),
    )
    Table("no_autoinc", md, Column("id", Integer, primary_key=True, autoincrement=False))
    Table("text_pk", md, Column("code", String(8), primary_key=True))
    Table(
        "seq_default",
        md,
        Column("id", Integer, Sequence("seq_default_id_seq2", start=100), primary_key=True),
    )
    Table(
        "seq_server_default",
        md,
        Column("id", BigInteger, primary_key=True, server_default=text("nextval('shared_seq')")),
    )
    Sequence("shared_seq", metadata=md, start=5, increment=3)
    Sequence("down_seq", metadata=md, increment=-1, data_type=Integer)
    Sequence(
        "bounded_seq", metadata=md, minvalue=10, maxvalue=99, cycle=True, data_type=SmallInteger
    )
    Table(
        "uniques",
        md,
        Column("id", Integer, primary_key=True, unique=True),
        Column("a", Integer, unique=True),
        Column("b", Integer),
        Column("c", Integer),
        UniqueConstraint("b", "c"),
        UniqueConstraint("b", "c", name="uq_named_bc"),
        UniqueConstraint("c", name="uq_deferred", deferrable=True, initially="DEFERRED"),
        UniqueConstraint("a", "b", postgresql_include=["c"]),
        UniqueConstraint("c", "a", postgresql_nulls_not_distinct=True),
    )
    return md


def defaults_shape() -> MetaData:
    md = MetaData()
    Table(
        "defaults",
        md,
        Column("id", Integer, primary_key=True),
        Column("status", String(20), server_default="open"),
        Column("status_text", Text, server_default=text("'open'")),
        Column("qty", Integer, server_default=text("0")),
        Column("neg", Integer, server_default=text("-1")),
        Column("neg_num", Numeric(10, 2), server_default=text("-1.5")),
        Column("price", Numeric(12, 2), server_default="9.99"),
        Column("flag", Boolean, server_default=text("true")),
        Column("flag_false", Boolean, server_default=text("false")),
        Column("created", DateTime(timezone=True), server_default=func.now()),
        Column("created_ts", DateTime, server_default=text("CURRENT_TIMESTAMP")),
        Column("today", Date, server_default=func.current_date()),
        Column("uid", Uuid, server_default=func.gen_random_uuid()),
        Column("doc", pg.JSONB, server_default=text("'{}'::jsonb")),
        Column("tags", ARRAY(Text), server_default=text("'{}'")),
        Column("mood", Enum(Mood, name="mood"), server_default="happy"),
        Column("lowered", Text, server_default=func.lower("ABC")),
        Column("cast", Integer, server_default=cast("12", Integer)),
        Column("interval", Interval, server_default=text("interval '1 day'")),
        Column("epoch", BigInteger, server_default=text("extract(epoch from now())::bigint")),
        Column("quote", Text, server_default="it's"),
        Column("nothing", Integer, server_default=text("NULL")),
        Column("day_now", Date, server_default=func.now()),
        Column("sum", Integer, server_default=text("(1 + 2) * 3")),
        Column("stamp", DateTime(timezone=True), server_default=text("'2020-01-01'::date")),
        Column("percent", Text, server_default=text("'50%'")),
        Column("bound", Text, server_default=text("'a:b'")),
    )
    return md


def checks_shape() -> MetaData:
    md = MetaData()
    t = Table(
        "checks",
        md,
        Column("id", Integer, primary_key=True),
        Column("qty", Integer, CheckConstraint("qty > 0")),
        Column("price", Numeric(10, 2), CheckConstraint("price >= 0", name="price_ok")),
        Column("status", String(20)),
        Column("code", Text),
        Column("starts", Date),
        Column("ends", Date),
        Column("mood", Enum(Mood, name="mood")),
        Column("email", String(320)),
        CheckConstraint("status IN ('open', 'closed', 'archived')", name="ck_status"),
        CheckConstraint("qty BETWEEN 1 AND 100", name="ck_between"),
        CheckConstraint("code LIKE 'A%'", name="ck_like"),
        CheckConstraint("code NOT ILIKE '%x%'"),
        CheckConstraint("starts < ends"),
        CheckConstraint("ends IS NULL OR ends > starts + 1"),
        CheckConstraint("CAST(qty AS numeric) * price < 1000000", name="ck_cast"),
        CheckConstraint("qty::text <> ''", name="ck_cast2"),
        CheckConstraint("length(email) > 3 AND position('@' in email) > 1", name="ck_email"),
        CheckConstraint("mood <> 'sad'", name="ck_mood"),
        CheckConstraint("checks.qty < 1000", name="ck_qualified"),
        CheckConstraint("extract(year from starts) > 2000", name="ck_extract"),
        CheckConstraint("true", name="ck_true"),
    )
    Table("checks2", md, Column("qty", Integer), CheckConstraint("qty > 0"))
    Table("checks3", md, Column("qty", Integer, CheckConstraint("qty > 0")), Column("x", Integer))
    t.append_constraint(CheckConstraint(t.c.qty < t.c.price, name="ck_expr"))
    return md


def foreign_keys_shape() -> MetaData:
    md = MetaData()
    Table("parents", md, Column("id", Integer, primary_key=True), Column("code", String(5)))
    Table(
        "pairs",
        md,
        Column("a", Integer, primary_key=True),
        Column("b", Integer, primary_key=True),
        Column("code", String(5), unique=True),
    )
    Table(
        "children",
        md,
        Column("id", Integer, primary_key=True),
        Column("parent_id", ForeignKey("parents.id", ondelete="CASCADE", onupdate="restrict")),
        Column("other_parent", ForeignKey("parents.id", ondelete="SET NULL", name="fk_other")),
        Column("a", Integer),
        Column("b", Integer),
        Column("code", ForeignKey("pairs.code", deferrable=True, initially="DEFERRED")),
        Column("self_id", ForeignKey("children.id")),
        ForeignKeyConstraint(["a", "b"], ["pairs.a", "pairs.b"], match="FULL"),
        ForeignKeyConstraint(["b", "a"], ["pairs.b", "pairs.a"], ondelete="set default"),
    )
    Table(
        "cycle_a",
        md,
        Column("id", Integer, primary_key=True),
        Column("b_id", ForeignKey("cycle_b.id", use_alter=True, name="fk_a_b")),
    )
    Table(
        "cycle_b",
        md,
        Column("id", Integer, primary_key=True),
        Column("a_id", ForeignKey("cycle_a.id")),
    )
    return md


def indexes_shape() -> MetaData:
    md = MetaData()
    t = Table(
        "things",
        md,
        Column("id", Integer, primary_key=True),
        Column("name", String(80), index=True),
        Column("email", Text, unique=True, index=True),
        Column("status", String(20)),
        Column("created", DateTime(timezone=True)),
        Column("doc", pg.JSONB),
        Column("tags", ARRAY(Text)),
        Column("qty", Integer),
        Column("mood", Enum(Mood, name="mood")),
    )
    Index("ix_desc", t.c.created.desc())
    Index(
        "ix_nulls", t.c.created.nulls_last(), t.c.status.desc().nulls_last(), t.c.id.nulls_first()
    )
    Index("ix_multi", t.c.status, t.c.created.desc(), t.c.id)
    Index("ix_lower", func.lower(t.c.email))
    Index("ix_lower_unique", func.lower(t.c.name), unique=True)
    Index("ix_expr", (t.c.qty + 1), t.c.id)
    Index("ix_partial", t.c.created, postgresql_where=t.c.status == "open")
    Index("ix_partial_text", t.c.id, postgresql_where=text("status <> 'archived' AND qty > 0"))
    Index("ix_hash", t.c.email, postgresql_using="hash")
    Index("ix_gin", t.c.doc, postgresql_using="gin")
    Index("ix_gin_ops", t.c.doc, postgresql_using="gin", postgresql_ops={"doc": "jsonb_path_ops"})
    Index("ix_gin_array", t.c.tags, postgresql_using="gin")
    Index("ix_include", t.c.status, postgresql_include=["qty", "created"])
    Index("ix_ops", t.c.name, postgresql_ops={"name": "varchar_pattern_ops"})
    Index("ix_ops_default", t.c.qty, postgresql_ops={"qty": "int4_ops"})
    Index("ix_brin", t.c.created, postgresql_using="brin")
    Index("ix_with", t.c.qty, postgresql_with={"fillfactor": 70})
    Index("ix_unique_nnd", t.c.qty, t.c.status, unique=True, postgresql_nulls_not_distinct=True)
    Index("ix_mood", t.c.mood, postgresql_where=t.c.mood != "sad")
    Index("ix_coalesce", func.coalesce(t.c.status, "none"), t.c.qty.desc())
    Index("ix_literal", literal_column("(qty * 2)"))
    Index(
        "ix_qualified", t.c.id, text("lower(things.email)"), postgresql_where=text("things.qty > 0")
    )
    return md


def schemas_shape() -> MetaData:
    md = MetaData()
    Table("base", md, Column("id", Integer, primary_key=True))
    Table(
        "remote",
        md,
        Column("id", Integer, primary_key=True),
        Column("base_id", ForeignKey("base.id")),
        Column("kind", Enum("x", "y", name="kind", schema="other")),
        Column("state", String(10), server_default="new"),
        CheckConstraint("kind <> 'y'", name="ck_kind"),
        schema="other",
    )
    Table(
        "back",
        md,
        Column("id", Integer, primary_key=True),
        Column("remote_id", ForeignKey("other.remote.id")),
        Column("kind", Enum("x", "y", name="kind", schema="other"), server_default="x"),
    )
    Index("ix_remote_state", md.tables["other.remote"].c.state)
    return md


LONG = "a_rather_long_identifier_that_goes_on_and_on_until_it_hits_63"


def long_names_shape() -> MetaData:
    md = MetaData(naming_convention={"ix": "ix_%(table_name)s_%(column_0_N_name)s"})
    long_table = LONG[:60] + "tbl"
    Table(LONG[:20] + "_id_seq", md, Column("v", Integer))  # the serial below takes _id_seq1
    Table(
        long_table,
        md,
        Column("id", Integer, primary_key=True),
        Column(LONG + "_col", Integer),
        Column(LONG[:40] + "_second_long_column_name", Integer, unique=True),
        Column("é" * 40, Text),
        CheckConstraint(f"{LONG}_col > 0"),
        UniqueConstraint(LONG + "_col", "id"),
        Index(None, "id", LONG + "_col"),
    )
    Table(
        LONG[:55] + "_child",
        md,
        Column("id", Integer, primary_key=True),
        Column("parent_" + LONG, ForeignKey(f"{long_table}.id")),
        CheckConstraint(f"parent_{LONG} > 0"),
        CheckConstraint(f"parent_{LONG} > 1"),
    )
    Table(LONG[:20], md, Column("id", Integer, primary_key=True))
    return md


def quoting_shape() -> MetaData:
    md = MetaData()
    t = Table(
        "User",
        md,
        Column("id", Integer, primary_key=True),
        Column("Name", String(50), nullable=False),
        Column("order", Integer, CheckConstraint('"order" > 0')),
        Column("select", Text, server_default="x"),
        Column("user", Text),
        Column("group", Integer, ForeignKey("group.id")),
        Column("camelCase", Integer),
        Column("with space", Integer),
        Column('with"quote', Integer),
        CheckConstraint('"Name" <> \'\' AND "camelCase" >= 0', name="Mixed Check"),
        CheckConstraint('"with space" > "with""quote"'),
        comment="a table 'quoted'",
    )
    Table("group", md, Column("id", Integer, primary_key=True), Column("desc", Text, comment="d"))
    Index("Ix Mixed", t.c.Name, t.c["order"].desc())
    Index("ix_user_lower", func.lower(t.c.Name), t.c.user)
    Index("ix_quoted_partial", t.c.id, postgresql_where=t.c["select"] == "a")
    Table("order", md, Column("id", Integer, primary_key=True), schema="Mixed Schema")
    return md


def conventions_shape() -> MetaData:
    md = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_N_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    Table(
        "accounts", md, Column("id", Integer, primary_key=True), Column("email", Text, unique=True)
    )
    Table(
        "very_long_table_name_for_conventions_to_truncate_properly",
        md,
        Column("id", Integer, primary_key=True),
        Column("account_id_with_a_long_name", ForeignKey("accounts.id"), index=True),
        Column("another_long_column_name_here", Integer),
        UniqueConstraint("account_id_with_a_long_name", "another_long_column_name_here"),
        CheckConstraint("another_long_column_name_here > 0", name="positive"),
    )
    return md


def generated_shape() -> MetaData:
    md = MetaData()
    Table(
        "gen",
        md,
        Column("id", Integer, primary_key=True),
        Column("price", Numeric(10, 2)),
        Column("qty", Integer),
        Column("total", Numeric, Computed("price * qty", persisted=True)),
        Column("label", Text, Computed("'#' || id::text", persisted=True)),
        Column("twice", Integer, Computed("gen.qty * 2", persisted=True)),
        Column("ts", DateTime(timezone=True), server_default=func.now(), comment="when"),
    )
    Table("commented", md, Column("id", Integer, primary_key=True), comment="")
    return md


def metadata_schema_shape() -> MetaData:
    md = MetaData(schema="tenant")
    Table(
        "items",
        md,
        Column("id", Integer, primary_key=True),
        Column("kind", Enum("a", "b", name="item_kind")),
        Column("ref", ForeignKey("tenant.refs.id")),
    )
    Table("refs", md, Column("id", BigInteger, Identity(), primary_key=True))
    return md


def edge_shape() -> MetaData:
    md = MetaData()
    mood = Enum(Mood, name="mood")
    t = Table(
        "edges",
        md,
        Column("id", Integer, primary_key=True),
        Column("date", Date, CheckConstraint("date > date '2000-01-01'")),
        Column("day", Integer, CheckConstraint("day > 0"), CheckConstraint("day < 32")),
        Column("value", Text, CheckConstraint("value <> ''")),
        Column("name", Text),
        Column("type", Text, CheckConstraint("type IN ('a', 'b')", name="ck_type")),
        Column("text", Text),
        Column("mood", mood, CheckConstraint("mood <> 'sad'::mood", name="ck_mood_cast")),
        Column("moods", ARRAY(mood), server_default=text("'{happy}'")),
        Column("stamp", DateTime, CheckConstraint("extract(day from stamp) > 0", name="ck_day")),
        Column("code", String(10), server_default=text("upper('x')")),
        Column("total", Integer, Computed("day * 2", persisted=True)),
        Column(
            "mood_text",
            Text,
            Computed("CASE WHEN mood = 'happy' THEN 'h' ELSE 's' END", persisted=True),
        ),
        Column("MixedCol", Integer),
        Column("later", Integer, CheckConstraint("later > 0", postgresql_not_valid=True)),
        CheckConstraint("name <> text", name="ck_name_text"),
        CheckConstraint('"MixedCol" > day AND "MixedCol" < 100'),
        CheckConstraint("/* a comment */ day <> 13 -- trailing\n", name="ck_comment"),
        CheckConstraint("$$it's$$ <> name", name="ck_dollar"),
        CheckConstraint("E'\\\\' <> name", name="ck_escape"),
        UniqueConstraint("name", "text"),
        Index("ix_edges_name_text", "name", "text", unique=True),
    )
    Index("ix_enum_expr", (t.c.mood == "happy"), cast(t.c.code, Text))
    Index("ix_mixed_expr", t.c.MixedCol + t.c.day, postgresql_where=t.c.mood.in_(["happy"]))
    Index(
        "ix_labeled_ops",
        func.lower(t.c.name).label("lname"),
        postgresql_ops={"lname": "text_pattern_ops"},
    )
    Table(
        "self_ref",
        md,
        Column("id", Integer, primary_key=True),
        Column("parent_id", ForeignKey("self_ref.id", use_alter=True, name="fk_self_parent")),
        Column("other_id", ForeignKey("self_ref.id", use_alter=True), index=True),
    )
    Table(
        "late_invalid",
        md,
        Column("id", Integer, primary_key=True),
        Column("ref", Integer),
        ForeignKeyConstraint(
            ["ref"], ["self_ref.id"], use_alter=True, name="fk_late", postgresql_not_valid=True
        ),
    )
    Table(
        "a_table_name_long_enough_to_be_cut_when_a_column_is_added_xx",
        md,
        Column("quantity", Integer, CheckConstraint("quantity > 0")),
    )
    Table(
        "a_table_name_long_enough_to_be_cut_when_a_column_is_added_yy",
        md,
        Column("quantity", Integer, CheckConstraint("quantity > 0")),
    )
    return md


SHAPES: dict[str, Callable[[], MetaData]] = {
    "types": types_shape,
    "keys": keys_shape,
    "defaults": defaults_shape,
    "checks": checks_shape,
    "foreign keys": foreign_keys_shape,
    "indexes": indexes_shape,
    "schemas": schemas_shape,
    "long names": long_names_shape,
    "quoting": quoting_shape,
    "conventions": conventions_shape,
    "generated": generated_shape,
    "metadata schema": metadata_schema_shape,
    "edges": edge_shape,
}


def service_metadata() -> MetaData:
    from service.db import Base

    return Base.metadata


def bench_metadata() -> MetaData:
    from bench.drift import build_metadata

    return build_metadata(30)


SHAPES["service"] = service_metadata
SHAPES["bench"] = bench_metadata


@pytest.fixture
def created(make_database: Callable[[str], str]) -> Iterator[Callable[[MetaData], str]]:
    """``created(metadata)``: a fresh database where create_all ran; its URL."""

    def make(metadata: MetaData) -> str:
        url = make_database("models")
        engine = create_engine(url)
        try:
            with engine.begin() as connection:
                create_schema(connection, metadata)
        finally:
            engine.dispose()
        return url

    yield make


def differences(metadata: MetaData, url: str) -> list[Any]:
    with connect(url) as conn:
        built = catalog_from_metadata(metadata, conn)
        read = load_catalog(conn, exclude_tables=())
    found = diff_catalogs(built, read, expected_label="built", actual_label="read")
    return [(d.kind, d.object, d.expected, d.actual) for d in found]


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_catalog_equals_create_all_then_load(
    shape: str, created: Callable[[MetaData], str]
) -> None:
    metadata = SHAPES[shape]()
    url = created(metadata)
    assert differences(metadata, url) == []


def test_runs_on_another_database_of_the_server(
    created: Callable[[MetaData], str], make_database: Callable[[str], str]
) -> None:
    metadata = schemas_shape()
    with connect(created(metadata)) as conn:
        read = load_catalog(conn)
    with connect(make_database("elsewhere")) as conn:
        built = catalog_from_metadata(metadata, conn)
    assert diff_catalogs(built, read) == []


SNAPSHOT_SQL = """
SELECT (SELECT count(*) FROM pg_class), (SELECT count(*) FROM pg_type),
    (SELECT count(*) FROM pg_constraint), (SELECT count(*) FROM pg_attrdef),
    (SELECT count(*) FROM pg_namespace), current_setting('search_path')"""


def test_leaves_nothing_behind(make_database: Callable[[str], str]) -> None:
    url = make_database("untouched")
    with connect(url, autocommit=True) as conn:
        before = conn.execute(SNAPSHOT_SQL).fetchone()
        catalog_from_metadata(checks_shape(), conn)
        catalog_from_metadata(indexes_shape(), conn)
        assert conn.execute(SNAPSHOT_SQL).fetchone() == before
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_inside_an_open_transaction_it_uses_a_savepoint(
    make_database: Callable[[str], str],
) -> None:
    url = make_database("savepoint")
    with connect(url) as conn:
        conn.execute("CREATE TABLE mine (id int)")
        catalog_from_metadata(defaults_shape(), conn)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        assert conn.execute("SELECT count(*) FROM mine").fetchone() == (0,)


def test_models_it_cannot_follow_ask_for_a_database(make_database: Callable[[str], str]) -> None:
    from sqlalchemy import DDL, event

    metadata = MetaData()
    table = Table("t", metadata, Column("id", Integer, primary_key=True))
    event.listen(table, "after_create", DDL("CREATE INDEX ix_t_id ON t (id)"))
    with connect(make_database("events")) as conn, pytest.raises(ModelsNeedDatabase):
        catalog_from_metadata(metadata, conn)


def rejected_shapes() -> dict[str, MetaData]:
    json_key = MetaData()
    Table("t", json_key, Column("id", JSON, primary_key=True))
    text_to_int = MetaData()
    Table("p", text_to_int, Column("id", Integer, primary_key=True))
    Table(
        "c",
        text_to_int,
        Column("id", Integer, primary_key=True),
        Column("p", Text, ForeignKey("p.id")),
    )
    bad_check = MetaData()
    Table("t", bad_check, Column("id", Integer, primary_key=True), CheckConstraint("id > 'x'"))
    return {"json": json_key, "foreign key": text_to_int, "invalid input": bad_check}


@pytest.mark.parametrize("kind", sorted(rejected_shapes()))
def test_models_postgresql_rejects(kind: str, make_database: Callable[[str], str]) -> None:
    metadata = rejected_shapes()[kind]
    with connect(make_database("rejects")) as conn, pytest.raises(ModelsNeedDatabase, match=kind):
        catalog_from_metadata(metadata, conn)


def test_another_current_schema(make_database: Callable[[str], str]) -> None:
    """Tables without a schema go where the session's search_path says; there, they and
    their enums are not visible under search_path = public: their names are qualified."""
    metadata = MetaData()
    Table(
        "items",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("kind", Enum("a", "b", name="item_kind"), server_default="a"),
        Column("parent", ForeignKey("items.id")),
    )
    url = make_database("app")
    with connect(url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA app")
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("SET LOCAL search_path = app, public")
            create_schema(connection, metadata)
    finally:
        engine.dispose()
    with connect(url) as conn:
        read = load_catalog(conn)
        conn.execute("SET search_path = app, public")
        built = catalog_from_metadata(metadata, conn)
    assert "app.items" in built.tables
    assert built.tables["app.items"].columns[1].type == "app.item_kind"
    assert diff_catalogs(built, read) == []


def test_models_that_need_a_real_database_fall_back_to_create_all(
    created: Callable[[MetaData], str],
) -> None:
    from dbctl.lifecycle.drift import Models, models_catalog

    metadata = MetaData()
    Table(
        "other_kind",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("kind", Enum("x", "y", name="kind", schema="other")),
        CheckConstraint("kind <> 'y'::other.kind", name="ck_kind"),
        schema="other",
    )
    domain = pg.DOMAIN("positive", Integer, check="VALUE > 0")
    Table("with_domain", metadata, Column("id", Integer, primary_key=True), Column("n", domain))
    url = created(metadata)
    with connect(url) as conn:
        read = load_catalog(conn)
        with pytest.raises(ModelsNeedDatabase):
            catalog_from_metadata(metadata, conn)
    scratch = models_catalog(Models(metadata), url)  # in a database made from template0
    assert diff_catalogs(scratch, read, ignore=["extra-extension:*"]) == []


def test_a_read_only_session_asks_for_a_database(make_database: Callable[[str], str]) -> None:
    with connect(make_database("readonly")) as conn:
        conn.execute("SET default_transaction_read_only = on")
        conn.commit()
        with pytest.raises(ModelsNeedDatabase, match="read-only"):
            catalog_from_metadata(keys_shape(), conn)


def test_a_refused_model_statement_is_named(make_database: Callable[[str], str]) -> None:
    """The statement named is the one PostgreSQL refused, also after statements holding a
    '%' (doubled in the compiled text for the driver's paramstyle, single on the wire)."""
    metadata = MetaData()
    Table(
        "notes",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("body", Text),
        CheckConstraint("body NOT LIKE '%x%' AND body NOT LIKE '%y%'", name="body_no_xy"),
    )
    broken = Table("broken", metadata, Column("id", Integer, primary_key=True))
    index = Index("ix_broken_nothing", broken.c.id)
    index.expressions = []  # as models whose index names a column by a stale key compile
    url = make_database("refused")
    engine = create_engine(url)
    try:
        with engine.begin() as connection, pytest.raises(ModelsFailed) as raised:
            create_schema(connection, metadata)
    finally:
        engine.dispose()
    assert str(raised.value).endswith(
        'syntax error at or near ")"; statement: CREATE INDEX ix_broken_nothing ON broken ()'
    )
