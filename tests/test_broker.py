import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq_postgres import PostgresBroker

from config.broker import make_broker


def test_empty_url_means_the_project_database():
    broker = make_broker("", database={"NAME": "sourcemark", "HOST": "/tmp/socket", "PORT": 5432})
    try:
        assert isinstance(broker, PostgresBroker)
    finally:
        broker.close()


@pytest.mark.parametrize(("url", "kind"), [
    ("amqp://guest:guest@127.0.0.1:5672", RabbitmqBroker),
    ("redis://127.0.0.1:6379/0", RedisBroker),
    ("stub://", StubBroker),
])
def test_url_scheme_picks_the_broker(url, kind):
    broker = make_broker(url)
    try:
        assert isinstance(broker, kind)
    finally:
        broker.close()


def test_unknown_scheme_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown scheme 'kafka'"):
        make_broker("kafka://127.0.0.1")
