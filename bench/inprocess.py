"""Django in this process on a throwaway database, for the benches that request pages with the
test client (bench/pages.py, bench/workbench.py)."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from bench.pretag import use_throwaway_database


def setup() -> str | None:
    """Nothing enqueued for real, the test client's host allowed, a database of its own.
    Returns the URL to drop that database from (bench.pretag.drop_bench_database), if any."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DRAMATIQ_BROKER_URL"] = "stub://"
    os.environ["ALLOWED_HOSTS"] = "testserver"
    tmp = Path(tempfile.mkdtemp(prefix="sourcemark-bench-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    drop_from = use_throwaway_database(tmp)

    import django

    django.setup()
    return drop_from
