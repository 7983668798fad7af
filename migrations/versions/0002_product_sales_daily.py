"""The product_sales_daily materialized view: units and revenue per product and UTC day.

The hottest read, "top products of the last N days", sums a few hundred rows of this view
instead of joining and aggregating every recent order. The view keeps the last 90 days
(read through ix_orders_created_at). Its unique index on (day, product_id) serves the
``day >= ...`` filter and lets ``REFRESH MATERIALIZED VIEW CONCURRENTLY`` run, so reads go
on during a refresh; ``python -m service.jobs refresh-top-products`` is that refresh.
Cancelled orders do not count.

Views are not part of ``Base.metadata`` (autogenerate ignores them): change this view with a
new revision.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE MATERIALIZED VIEW product_sales_daily AS
        SELECT (o.created_at AT TIME ZONE 'UTC')::date AS day,
               i.product_id,
               sum(i.quantity)::bigint AS units,
               sum(i.quantity::bigint * i.unit_price_cents)::bigint AS revenue_cents
        FROM orders AS o
        JOIN order_items AS i ON i.order_id = o.id
        WHERE o.created_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                              - interval '89 days'
          AND o.status <> 'cancelled'
        GROUP BY 1, 2
        WITH DATA
        """
    )
    op.create_index(
        "uq_product_sales_daily_day_product_id",
        "product_sales_daily",
        ["day", "product_id"],
        unique=True,
    )


def downgrade() -> None:
    # Dropping the view drops its index.
    op.execute("DROP MATERIALIZED VIEW product_sales_daily")
