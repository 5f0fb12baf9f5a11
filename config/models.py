"""The project's own models outside its two apps (app label "sourcemark")."""

from django.conf import settings
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models


class Session(AbstractBaseSession):
    """Django's database session, with the user it logs in beside its data: a request reads the
    session and its user in one query (config/sessions.py). A user's sessions go with them."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.CASCADE, related_name="+")

    @classmethod
    def get_session_store_class(cls):
        from config.sessions import SessionStore

        return SessionStore
