"""Sessions in the database, as Django's own backend keeps them, read with plain SQL: every
request of a logged-in user reads one (see config/rows.py)."""

import functools

from django.contrib.sessions.backends import db
from django.utils import timezone

from config import rows
from config.rows import Columns


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        columns = _columns(self.model)
        with rows.cursor() as cursor:
            cursor.execute(f"""SELECT {columns.sql} FROM {self.model._meta.db_table} s
                               WHERE s.session_key = %s AND s.expire_date > %s""",
                           [self.session_key, timezone.now()])
            row = cursor.fetchone()
        if row is None:  # none, or expired: the request starts a new session
            self._session_key = None
            return None
        return columns.make(row)


@functools.cache
def _columns(model) -> Columns:
    return Columns(model, "s")
