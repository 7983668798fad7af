"""Fill the shop with generated data, fast: every table in one set-based statement.

    python -m service.seed --customers 1000 --products 200 --orders 5000

Rows are made by ``generate_series`` inside PostgreSQL (no Python loop, no round trip per
row). Customers, categories and products have natural keys and are inserted with
``ON CONFLICT DO NOTHING``, so a second run adds none of them again; each run adds
``--orders`` new orders (1-4 items each, over the last 60 days, a few products selling far
more than the rest) from the customers and products present. Stock is not taken by seeded
orders. Ends with ANALYZE and a refresh of the top-products views (``product_sales_daily``
and ``top_products_by_window``).
Run it on a migrated database (``dbctl migrate``).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from service.db.catalog import refresh_top_products
from service.db.engine import create_db_engine
from service.settings import DatabaseNotConfigured, ServiceSettings, resolve_database_url

logger = logging.getLogger("service.seed")

CATEGORIES = 12
SHOP_TABLES = ("customers", "categories", "products", "orders", "order_items")

CATEGORIES_SQL = text("""
    INSERT INTO categories (name)
    SELECT 'Category ' || g FROM generate_series(1, :n) AS g
    ON CONFLICT ON CONSTRAINT uq_categories_name DO NOTHING
""")

CUSTOMERS_SQL = text("""
    INSERT INTO customers (email, name)
    SELECT 'customer' || g || '@example.com', 'Customer ' || g FROM generate_series(1, :n) AS g
    ON CONFLICT ON CONSTRAINT uq_customers_email DO NOTHING
""")

PRODUCTS_SQL = text("""
    INSERT INTO products (sku, name, category_id, price_cents, stock)
    SELECT 'SKU-' || lpad(g::text, 6, '0'),
           'Product ' || g,
           c.ids[1 + g % cardinality(c.ids)],
           99 + (g * 7919) % 20000,
           100000 + (g * 104729) % 900000
    FROM generate_series(1, :n) AS g,
         (SELECT array_agg(id ORDER BY id) AS ids FROM categories) AS c
    ON CONFLICT ON CONSTRAINT uq_products_sku DO NOTHING
""")

# Orders and their items in one statement, totals included: ids are drawn from the orders
# sequence first so that the lines can be made before the orders. power(random(), 3) makes
# a few products far more popular than the rest.
ORDERS_SQL = text("""
    WITH pool AS (
        SELECT (SELECT array_agg(id ORDER BY id) FROM customers) AS customers,
               (SELECT array_agg(id ORDER BY id) FROM products) AS products
    ), draft AS MATERIALIZED (
        SELECT nextval(pg_get_serial_sequence('orders', 'id')) AS id,
               pool.customers[1 + floor(random() * cardinality(pool.customers))::int]
               AS customer_id,
               now() - random() * interval '60 days' AS created_at
        FROM pool, generate_series(1, :n)
    ), line AS MATERIALIZED (
        SELECT d.id AS order_id, p.id AS product_id, 1 + floor(random() * 3)::int AS quantity,
               p.price_cents
        FROM draft AS d
        CROSS JOIN pool
        CROSS JOIN LATERAL (
            SELECT DISTINCT
                   pool.products[1 + floor(power(random(), 3) * cardinality(pool.products))::int]
                   AS product_id
            FROM generate_series(1, 1 + d.id % 4)
        ) AS pick
        JOIN products AS p ON p.id = pick.product_id
    ), new_order AS (
        INSERT INTO orders (id, customer_id, total_cents, item_count, created_at)
        SELECT d.id, d.customer_id, sum(l.quantity::bigint * l.price_cents), sum(l.quantity),
               d.created_at
        FROM draft AS d JOIN line AS l ON l.order_id = d.id
        GROUP BY d.id, d.customer_id, d.created_at
    )
    INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents)
    SELECT order_id, product_id, quantity, price_cents FROM line
""")


def seed(connection: Connection, *, customers: int, products: int, orders: int) -> dict[str, int]:
    """Insert the rows in the connection's transaction; returns how many of each were added."""
    added = {
        "categories": connection.execute(CATEGORIES_SQL, {"n": CATEGORIES}).rowcount,
        "customers": connection.execute(CUSTOMERS_SQL, {"n": customers}).rowcount,
        "products": connection.execute(PRODUCTS_SQL, {"n": products}).rowcount,
        "orders": 0,
    }
    if orders:
        ready = connection.execute(
            text("SELECT EXISTS (SELECT FROM customers) AND EXISTS (SELECT FROM products)")
        ).scalar_one()
        if ready:
            connection.execute(ORDERS_SQL, {"n": orders})
            added["orders"] = orders
        else:
            logger.warning("no orders seeded: they need customers and products")
    return added


def seed_database(
    settings: ServiceSettings, *, customers: int, products: int, orders: int
) -> dict[str, int]:
    """Seed the service's database in one transaction, analyze it, refresh the read model."""
    engine = create_db_engine(resolve_database_url(settings), settings.for_batch())
    try:
        with engine.begin() as connection:
            added = seed(connection, customers=customers, products=products, orders=orders)
            connection.execute(text(f"ANALYZE {', '.join(SHOP_TABLES)}"))
        with Session(engine) as session:
            refresh_top_products(session=session, concurrently=False)
    finally:
        engine.dispose()
    return added


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m service.seed",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--customers", type=int, default=1000, metavar="N")
    parser.add_argument("--products", type=int, default=200, metavar="N")
    parser.add_argument("--orders", type=int, default=5000, metavar="N")
    args = parser.parse_args(argv)
    if min(args.customers, args.products, args.orders) < 0:
        parser.error("counts must be >= 0")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        added = seed_database(
            ServiceSettings(), customers=args.customers, products=args.products, orders=args.orders
        )
    except DatabaseNotConfigured as exc:
        logger.error("%s", exc)
        return 2
    except OperationalError as exc:
        logger.error("cannot reach the database: %s", str(exc.orig).strip().splitlines()[0])
        return 2
    logger.info("seeded %s", ", ".join(f"{n} {table}" for table, n in added.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
