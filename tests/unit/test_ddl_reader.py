"""``--schema`` DDL: pg_dump's output as it is (psql meta-commands, COPY data, a BOM), one
statement that sqlglot cannot take skipped and counted, text that is not UTF-8 one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlglot.errors import ParseError

from dbctl.errors import ConfigError
from dbctl.schema.ddl import catalog_from_ddl, schema_catalog

pytestmark = pytest.mark.unit

CUSTOMERS = "CREATE TABLE public.customers (id bigint PRIMARY KEY, name text NOT NULL);"
ORDERS = "CREATE TABLE public.orders (id bigint PRIMARY KEY, customer_id bigint);"

PG_DUMP = f"""--
-- PostgreSQL database dump
--

\\restrict 9yXcQ2EmZkBfPz1wLkN8uT0aVjRr4sHd

SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);
\\connect app
{CUSTOMERS}
ALTER TABLE public.customers OWNER TO app;
COPY public.customers (id, name) FROM stdin;
1\tAda; Lovelace
2\tCREATE TABLE fake (x int);
\\.

{ORDERS}
CREATE INDEX orders_customer_id_idx ON public.orders USING btree (customer_id);

\\unrestrict 9yXcQ2EmZkBfPz1wLkN8uT0aVjRr4sHd
"""


def test_pg_dump_output_with_restrict_connect_and_copy_data() -> None:
    catalog, _ = catalog_from_ddl(PG_DUMP)
    assert sorted(catalog.tables) == ["public.customers", "public.orders"]
    orders = catalog.tables["public.orders"]
    assert [index.name for index in orders.indexes] == ["orders_pkey", "orders_customer_id_idx"]


def test_a_byte_order_mark_is_accepted() -> None:
    catalog, _ = catalog_from_ddl("\ufeff" + CUSTOMERS + "\n;\n\ufeff" + ORDERS)
    assert sorted(catalog.tables) == ["public.customers", "public.orders"]


def test_a_statement_nested_too_deep_is_skipped_not_fatal() -> None:
    deep = "CREATE VIEW v AS SELECT " + "(" * 3000 + "1" + ")" * 3000
    catalog, skipped = catalog_from_ddl(f"{CUSTOMERS}\n{deep};\n{ORDERS}")
    assert sorted(catalog.tables) == ["public.customers", "public.orders"]
    assert skipped >= 1


def test_a_statement_that_does_not_parse_is_skipped() -> None:
    catalog, skipped = catalog_from_ddl(f"{CUSTOMERS}\nCREATE TABLE (((;\n{ORDERS}")
    assert sorted(catalog.tables) == ["public.customers", "public.orders"]
    assert skipped >= 1


def test_text_where_nothing_parses_still_raises() -> None:
    with pytest.raises(ParseError):
        catalog_from_ddl("CREATE TABLE (((;\nCREATE TABLE )))")


def test_schema_catalog_reads_the_files(tmp_path: Path) -> None:
    first, second = tmp_path / "a.sql", tmp_path / "b.sql"
    first.write_bytes(b"\xef\xbb\xbf" + CUSTOMERS.encode())
    second.write_text(PG_DUMP.replace(CUSTOMERS, ""))
    catalog, skipped = schema_catalog([str(first), str(second)])
    assert skipped == 3  # SET, SELECT set_config, ALTER ... OWNER TO
    assert sorted(catalog.tables) == ["public.customers", "public.orders"]


def test_a_schema_that_is_not_utf8_names_the_file_and_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "schema.sql"
    path.write_bytes(CUSTOMERS.encode() + b"\n-- caf\xe9\n" + ORDERS.encode())
    with pytest.raises(ConfigError) as raised:
        schema_catalog([str(path)])
    offset = len(CUSTOMERS) + 7
    assert str(raised.value) == (
        f"{path} is not UTF-8: byte 0xe9 at offset {offset} (line 2); convert it, e.g. "
        "iconv -f latin1 -t utf-8"
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.sql", "no such file: "),
        (lambda p: p, " is a folder, not a SQL file"),
    ],
)
def test_a_schema_that_cannot_be_read_is_one_line(
    tmp_path: Path, make: object, message: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(ConfigError, match=message):
        schema_catalog([str(path)])


def test_a_schema_where_nothing_parses_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "schema.sql"
    path.write_bytes(b"\x00\x01 this is not SQL (((")
    with pytest.raises(ConfigError, match="does not parse"):
        schema_catalog([str(path)])
