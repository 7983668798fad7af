"""The top_products_by_window materialized view: the ranking itself, for every window.

``GET /products/top?days=&limit=`` used to sum ``product_sales_daily`` over the window and
sort every product on each request: milliseconds, growing with the catalogue and the window.
This view holds the answer instead: for every window of 1 to 90 days (``product_sales_daily``
keeps 90) the best 100 products (the endpoint's largest ``limit``) with their rank, sku,
name, units and revenue. The read is one range scan of its unique index on
(window_days, rank), at most 100 rows, and no join.

The sku and name are copied from ``products`` at refresh time (a small denormalisation): the
ranking is a snapshot of the last refresh anyway, and the read needs no join. A renamed
product shows its new name after the next refresh.

Ranking: units descending, then product_id, numbered by ``row_number()`` so that ranks are
unique (the unique index needs it, and ``REFRESH MATERIALIZED VIEW CONCURRENTLY`` needs the
unique index). A window counts the UTC days ``day > today - window_days``, ``today`` being
the UTC day of the refresh; only products with a sale in the window are ranked.

It is built from ``product_sales_daily`` in one pass: the sales of each product are summed
by age in days, then accumulated over the windows 1..90 by a running sum (a product x 90
grid), instead of aggregating the daily rows once per window. Refresh it after
``product_sales_daily``, in the same transaction (``refresh_top_products`` does both).

Views are not part of ``Base.metadata`` (autogenerate ignores them): change this view with a
new revision.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # by_age: first_window is the smallest window that holds the day (a day in the future,
    # from a clock ahead of the refresh, counts in every window as it did before).
    # running: sum() over only NULLs is NULL, so a NULL total means no sale in the window.
    op.execute(
        """
        CREATE MATERIALIZED VIEW top_products_by_window AS
        WITH by_age AS (
            SELECT product_id,
                   greatest((now() AT TIME ZONE 'UTC')::date - day + 1, 1) AS first_window,
                   sum(units) AS units,
                   sum(revenue_cents) AS revenue_cents
            FROM product_sales_daily
            GROUP BY 1, 2
        ), running AS (
            SELECT w.window_days,
                   p.product_id,
                   sum(a.units) OVER grow AS units,
                   sum(a.revenue_cents) OVER grow AS revenue_cents
            FROM (SELECT DISTINCT product_id FROM product_sales_daily) AS p
            CROSS JOIN generate_series(1, 90) AS w (window_days)
            LEFT JOIN by_age AS a
                   ON a.product_id = p.product_id AND a.first_window = w.window_days
            WINDOW grow AS (PARTITION BY p.product_id ORDER BY w.window_days)
        ), ranked AS (
            SELECT window_days, product_id, units, revenue_cents,
                   row_number() OVER (
                       PARTITION BY window_days ORDER BY units DESC, product_id
                   ) AS rank
            FROM running
            WHERE units IS NOT NULL
        )
        SELECT r.window_days,
               r.rank::integer AS rank,
               r.product_id,
               p.sku,
               p.name,
               r.units::bigint AS units,
               r.revenue_cents::bigint AS revenue_cents
        FROM ranked AS r
        JOIN products AS p ON p.id = r.product_id
        WHERE r.rank <= 100
        WITH DATA
        """
    )
    op.create_index(
        "uq_top_products_by_window_window_days_rank",
        "top_products_by_window",
        ["window_days", "rank"],
        unique=True,
    )


def downgrade() -> None:
    # Dropping the view drops its index; product_sales_daily is left as 0002 made it.
    op.execute("DROP MATERIALIZED VIEW top_products_by_window")
