"""Entry point for Dramatiq workers: `dramatiq config.worker`.

Boots Django (which installs the configured broker), imports every app's tasks module, and has
each worker process take no more messages at a time than it has threads (`OneMessagePerThread`).
"""

import django
import dramatiq
import dramatiq.worker
from django.utils.module_loading import autodiscover_modules
from dramatiq.middleware import Middleware


class OneMessagePerThread(Middleware):
    """A worker process claims at most one message per worker thread.

    Dramatiq's default is two, to hide the broker's round trip behind the work. Our messages are
    long (a pre-tagging message is 50 articles, seconds of spaCy), so the second one only waits
    in that process while another process may have nothing to do: with `--processes 2 --threads
    1`, an import of 100 articles (two messages) was pre-tagged by one process while the other
    stayed idle. A prefetch set by the environment (`dramatiq_queue_prefetch`) is left alone."""

    def before_worker_boot(self, broker, worker) -> None:
        if not dramatiq.worker.QUEUE_PREFETCH:
            worker.queue_prefetch = worker.worker_threads


django.setup()
autodiscover_modules("tasks")
dramatiq.get_broker().add_middleware(OneMessagePerThread())
