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
    env = {**os.environ, "DATABASE_URL": database_url(connection.settings_dict),
           "DRAMATIQ_BROKER_URL": broker_url, "SOURCEMARK_DATA_DIR": str(settings.DATA_DIR)}
    worker = subprocess.Popen([sys.executable, "-m", "dramatiq", "config.worker",
                               "--processes", "1", "--threads", "1"],
                              env=env, cwd=settings.BASE_DIR, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while Article.objects.untagged().exists():
            assert worker.poll() is None, "the worker exited early"
            assert time.monotonic() < deadline, "the worker did not pre-tag the articles in time"
            time.sleep(0.5)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
    assert set(Article.objects.values_list("status", flat=True)) == {"pretagged"}
    for article in Article.objects.all():
        assert article.mentions.filter(origin="model").exists()
        assert article.events.filter(action="article.pretag").count() == 1
