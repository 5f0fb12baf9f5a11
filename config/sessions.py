"""Sessions in the database, as Django's own backend keeps them, with the user each logs in:
every request of a logged-in user reads its session and its user (with their permissions) in
one plain query (see config/rows.py), and the authentication backend takes the user from there
(config/auth.py)."""

from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.sessions.backends import db
from django.utils import timezone

from config import auth, rows
from config.rows import split


class SessionStore(db.SessionStore):
    # The active or inactive user this session logs in, read with it (None if none was read).
    user_read = None

    @classmethod
    def get_model_class(cls):
        from config.models import Session

        return Session

    def create_model_instance(self, data):
        session = super().create_model_instance(data)
        user_id = data.get(SESSION_KEY)
        session.user_id = None if user_id is None else get_user_model()._meta.pk.to_python(user_id)
        return session

    def _get_session_from_db(self):
        session_columns, user_columns = rows.columns(self.model, "s"), auth.user_columns()
        with rows.cursor() as cursor:
            cursor.execute(f"""SELECT {session_columns.sql}, {user_columns.sql}, {auth.PERMISSIONS}
                               FROM {self.model._meta.db_table} s
                               LEFT JOIN {user_columns.model._meta.db_table} u ON u.id = s.user_id
                               WHERE s.session_key = %(key)s AND s.expire_date > %(now)s""",
                           {"key": self.session_key, "now": timezone.now()})
            row = cursor.fetchone()
        if row is None:  # none, or expired: the request starts a new session
            self._session_key = None
            return None
        session_values, user_values = split(row, session_columns, user_columns)
        session = session_columns.make(session_values)
        if session.user_id is not None:
            self.user_read = auth.user_from_row(user_values, row[-1])
        return session
