from django.apps import AppConfig
from django.conf import settings


class SourcemarkConfig(AppConfig):
    """Sets the Dramatiq broker once Django's settings are known (see config/broker.py)."""

    name = "config"
    label = "sourcemark"

    def ready(self) -> None:
        from config import broker

        broker.install(settings.DRAMATIQ_BROKER_URL, database=settings.DATABASES["default"],
                       heartbeat_ttl=settings.DRAMATIQ_PG_HEARTBEAT_TTL)
