"""config/worker.py: what the worker entry point sets up beyond importing the actors."""

import dramatiq
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker

from config.worker import OneMessagePerThread


def _prefetch(threads: int, *middleware) -> int:
    broker = StubBroker()
    for each in middleware:
        broker.add_middleware(each)
    broker.declare_queue("default")
    worker = Worker(broker, worker_threads=threads)
    worker.start()
    try:
        return worker.consumers["default"].prefetch
    finally:
        worker.stop()
        broker.close()


def test_a_worker_process_claims_one_message_per_thread():
    assert _prefetch(1) == 2  # Dramatiq's own default: a second message waits in the process
    assert _prefetch(1, OneMessagePerThread()) == 1
    assert _prefetch(3, OneMessagePerThread()) == 3


def test_the_worker_entry_point_installs_it_on_the_broker():
    assert any(isinstance(m, OneMessagePerThread) for m in dramatiq.get_broker().middleware)
