"""Which Dramatiq broker this process talks to, chosen by one setting (DRAMATIQ_BROKER_URL).

- empty or postgres(ql)://: dramatiq-postgres, by default on the project's own database, so the
  zero set-up path needs no other server;
- amqp:// or amqps://: RabbitMQ, for workers on many machines;
- redis:// or rediss://: Redis;
- stub://: an in-memory broker for tests.
"""

from urllib.parse import urlsplit

import dramatiq
from dramatiq.broker import Broker


def make_broker(url: str, *, database: dict | None = None, heartbeat_ttl: float = 60.0) -> Broker:
    scheme = urlsplit(url).scheme if url else "postgresql"
    if scheme in ("postgres", "postgresql"):
        from dramatiq.middleware import default_middleware
        from dramatiq_postgres import PostgresBroker
        from dramatiq_postgres.django.middleware import DbConnectionsMiddleware

        middleware = [m() for m in default_middleware] + [DbConnectionsMiddleware()]
        # A dead worker's jobs are requeued once its heartbeat is older than heartbeat_ttl; the
        # heartbeat and the check run well within that.
        return PostgresBroker(url=url or _libpq_kwargs(database or {}), middleware=middleware,
                              heartbeat_ttl=heartbeat_ttl, heartbeat_interval=min(15.0, heartbeat_ttl / 4),
                              maintenance_interval=min(30.0, heartbeat_ttl / 2))
    if scheme in ("amqp", "amqps"):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return _with_django_connections(RabbitmqBroker(url=url))
    if scheme in ("redis", "rediss"):
        from dramatiq.brokers.redis import RedisBroker

        return _with_django_connections(RedisBroker(url=url))
    if scheme == "stub":
        from dramatiq.brokers.stub import StubBroker

        return _with_django_connections(StubBroker())
    raise ValueError(
        f"DRAMATIQ_BROKER_URL has an unknown scheme {scheme!r}: "
        "use postgresql://, amqp://, redis:// or leave it empty for the project database"
    )


def _with_django_connections(broker: Broker) -> Broker:
    from dramatiq_postgres.django.middleware import DbConnectionsMiddleware

    broker.add_middleware(DbConnectionsMiddleware())
    return broker


def _libpq_kwargs(database: dict) -> dict:
    keys = {"NAME": "dbname", "USER": "user", "PASSWORD": "password", "HOST": "host", "PORT": "port"}
    return {libpq: str(database[key]) for key, libpq in keys.items() if database.get(key)}


def install(url: str, *, database: dict, heartbeat_ttl: float = 60.0) -> Broker:
    broker = make_broker(url, database=database, heartbeat_ttl=heartbeat_ttl)
    dramatiq.set_broker(broker)
    return broker
