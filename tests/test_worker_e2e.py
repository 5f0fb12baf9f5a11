"""The path a user runs: a real broker and a real Dramatiq worker process pre-tag the articles.

The broker is the one the environment names for production (SOURCEMARK_E2E_BROKER_URL, taken
from DRAMATIQ_BROKER_URL; by default the project's own PostgreSQL through dramatiq-postgres).
"""

import os
import signal
import subprocess
import sys
import time
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from annotation.tasks import pretag_articles
from config.broker import make_broker
from corpus.models import Article


def database_url(settings_dict: dict) -> str:
    user = quote(settings_dict["USER"] or "", safe="")
    password = f":{quote(settings_dict['PASSWORD'], safe='')}" if settings_dict["PASSWORD"] else ""
    host = quote(str(settings_dict["HOST"] or ""), safe="")
    port = f":{settings_dict['PORT']}" if settings_dict["PORT"] else ""
    return f"postgresql://{user}{password}@{host}{port}/{settings_dict['NAME']}"


def worker_env(broker_url: str, **extra: str) -> dict:
    return {**os.environ, "DATABASE_URL": database_url(connection.settings_dict),
            "DRAMATIQ_BROKER_URL": broker_url, "SOURCEMARK_DATA_DIR": str(settings.DATA_DIR), **extra}


def start_worker(env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dramatiq", "config.worker", "--processes", "1",
                             "--threads", "1"], env=env, cwd=settings.BASE_DIR, start_new_session=True)


def run_worker_until(env: dict, done, *, timeout: float, what: str) -> None:
    """Start a worker, wait until `done()` holds (failing if the worker dies or time runs out),
    then stop it."""
    worker = start_worker(env)
    try:
        deadline = time.monotonic() + timeout
        while not done():
            assert worker.poll() is None, "the worker exited early"
            assert time.monotonic() < deadline, f"the worker did not {what} in time"
            time.sleep(0.5)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_real_worker_pretags_articles_sent_through_the_real_broker(seed_articles):
    broker_url = os.environ.get("SOURCEMARK_E2E_BROKER_URL", "")
    broker = make_broker(broker_url, database=connection.settings_dict)
    try:
        # Stale messages from other runs may sit in a shared RabbitMQ or Redis queue: they name
        # articles this database does not have, and the actor then has nothing to do.
        broker.declare_queue(pretag_articles.queue_name)
        broker.enqueue(pretag_articles.message([a.pk for a in seed_articles]))
    finally:
        broker.close()
    run_worker_until(worker_env(broker_url), lambda: not Article.objects.untagged().exists(),
                     timeout=180, what="pre-tag the articles")
    assert set(Article.objects.values_list("status", flat=True)) == {"pretagged"}
    for article in Article.objects.all():
        assert article.mentions.filter(origin="model").exists()
        assert article.events.filter(action="article.pretag").count() == 1


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_in_the_middle_of_an_import_leaves_whole_chunks_and_the_next_finishes_it():
    from corpus.models import ImportBatch, ImportFile
    from corpus.tasks import import_batch

    rows = 1000
    content = "\n".join(f'{{"text": "Dispatch {n}: officials in Sirte counted {n} arrivals."}}'
                        for n in range(rows)).encode()
    batch = ImportBatch.objects.create(files=["big.jsonl"])
    ImportFile.objects.create(batch=batch, name="big.jsonl", size=len(content), content=content)
    broker_url = os.environ.get("SOURCEMARK_E2E_BROKER_URL", "")
    broker = make_broker(broker_url, database=connection.settings_dict)
    try:
        broker.declare_queue(import_batch.queue_name)
        broker.enqueue(import_batch.message(batch.pk))
    finally:
        broker.close()
    # Small chunks, so the kill lands in the middle; a dead worker's jobs come back in seconds.
    env = worker_env(broker_url, SOURCEMARK_IMPORT_CHUNK="10", DRAMATIQ_PG_HEARTBEAT_TTL="3")
    first = start_worker(env)
    try:
        deadline = time.monotonic() + 120
        while not ImportBatch.objects.filter(pk=batch.pk, stored__gt=0).exists():
            assert first.poll() is None and time.monotonic() < deadline, "the first worker never stored"
            time.sleep(0.005)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.STORING and 0 < batch.stored < rows
    # Whole chunks only: the articles and the batch's counts were committed together.
    assert batch.articles.count() == batch.stored and batch.stored % 10 == 0
    run_worker_until(env, lambda: ImportBatch.objects.filter(pk=batch.pk, status=ImportBatch.Status.READY).exists(),
                     timeout=300, what="finish the batch")
    batch.refresh_from_db()
    assert (batch.stored, batch.duplicates, batch.failed, batch.rows) == (rows, 0, 0, rows)
    assert Article.objects.count() == rows
    assert not Article.objects.untagged().exists()
