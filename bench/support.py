"""What the benchmarks share: a PostgreSQL server to measure on."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def throwaway_server(folder: Path) -> Iterator[str]:
    """The URL of a superuser connection: ``DBCTL_BENCH_DATABASE_URL`` when it is set, else
    a throwaway dbctl sandbox with its state in ``folder`` (the project's sandbox is left
    alone), destroyed on exit."""
    url = os.environ.get("DBCTL_BENCH_DATABASE_URL")
    if url:
        yield url
        return
    from dbctl.pg.sandbox import Sandbox

    sandbox = Sandbox(folder / "state")
    status = sandbox.start()
    assert status.url is not None
    try:
        yield status.url
    finally:
        sandbox.stop(destroy=True)
