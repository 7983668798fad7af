"""Scheduled jobs of the service, for cron.

    python -m service.jobs refresh-top-products [--blocking]

``refresh-top-products`` recomputes the materialized views of ``GET /products/top``:
``product_sales_daily``, then ``top_products_by_window`` that the endpoint reads, in one
transaction (see ``service.db.catalog.refresh_top_products``). It refreshes
``CONCURRENTLY`` so readers are never blocked; ``--blocking`` does a plain refresh, faster
on a large view but one that blocks reads meanwhile. A crontab line:

    */5 * * * *  cd /srv/shop && python -m service.jobs refresh-top-products

The database comes from ``DATABASE_URL`` (or the dbctl sandbox), as for the service.
Exit status: 0 done, 2 the job could not run (no database configured or reachable).
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from service.db.catalog import TOP_PRODUCTS_VIEWS, refresh_top_products
from service.db.engine import create_db_engine
from service.settings import DatabaseNotConfigured, ServiceSettings, resolve_database_url

logger = logging.getLogger("service.jobs")


def run_refresh_top_products(
    settings: ServiceSettings | None = None, *, concurrently: bool = True
) -> float:
    """Refresh the top-products views once; returns the seconds it took."""
    settings = settings or ServiceSettings()
    engine = create_db_engine(resolve_database_url(settings), settings.for_batch())
    try:
        started = time.perf_counter()
        with Session(engine) as session:
            refresh_top_products(session=session, concurrently=concurrently)
        return time.perf_counter() - started
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m service.jobs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    jobs = parser.add_subparsers(dest="job", required=True)
    refresh = jobs.add_parser("refresh-top-products", help="refresh the top-products views")
    refresh.add_argument("--blocking", action="store_true", help="plain (not concurrent) refresh")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        seconds = run_refresh_top_products(concurrently=not args.blocking)
    except DatabaseNotConfigured as exc:
        logger.error("%s", exc)
        return 2
    except OperationalError as exc:
        logger.error("cannot reach the database: %s", str(exc.orig).strip().splitlines()[0])
        return 2
    logger.info("refreshed %s in %.3f s", ", ".join(TOP_PRODUCTS_VIEWS), seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
