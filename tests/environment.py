"""Loaded with `-p` before pytest-django sets Django up (pyproject.toml), to choose the brokers.

In-process code under test uses Dramatiq's StubBroker (the one test-only setting, STYLE.md §5);
the broker the environment names (default: the project's PostgreSQL) is kept for the end-to-end
test, which runs real worker processes against it.
"""

import os

os.environ.setdefault("SOURCEMARK_E2E_BROKER_URL", os.environ.get("DRAMATIQ_BROKER_URL", ""))
os.environ["DRAMATIQ_BROKER_URL"] = "stub://"
# Playwright's sync API runs an event loop in the test thread; Django's ORM must still be usable.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
