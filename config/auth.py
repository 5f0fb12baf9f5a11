"""Authentication backend: Django's, with each request's user read with their permissions in
one plain query (see config/rows.py), the session's own (config/sessions.py)."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from config import rows
from config.rows import Columns

# A user's own permissions and their groups', in one round trip (ModelBackend makes two, and an
# OR over both many-to-many joins costs PostgreSQL more than the two).
_PERMISSIONS_OF = """
    SELECT {columns}
    FROM auth_permission p JOIN django_content_type ct ON ct.id = p.content_type_id
    WHERE p.id IN (SELECT up.permission_id FROM auth_user_user_permissions up
                   WHERE up.user_id = {user}
                   UNION
                   SELECT gp.permission_id FROM auth_group_permissions gp
                   JOIN auth_user_groups ug ON ug.group_id = gp.group_id
                   WHERE ug.user_id = {user})"""
_PERMISSIONS = _PERMISSIONS_OF.format(columns="ct.app_label, p.codename", user="%(user)s")
# As "app_label.codename", of the user read alongside them (u).
_OWN_PERMISSIONS = _PERMISSIONS_OF.format(columns="ct.app_label || '.' || p.codename", user="u.id")
# The user's permissions beside their columns (u): None for a superuser (all, read if asked).
PERMISSIONS = f"CASE WHEN NOT u.is_superuser THEN ARRAY({_OWN_PERMISSIONS}) END"
_ALL_PERMISSIONS = """
    SELECT ct.app_label, p.codename
    FROM auth_permission p JOIN django_content_type ct ON ct.id = p.content_type_id"""


# The session whose user the request asks for (see `reading_user_of`).
_session: ContextVar = ContextVar("session_whose_user_is_asked", default=None)


@contextmanager
def reading_user_of(session) -> Iterator[None]:
    """Within it, the backend takes the user the session read with itself, if it is the one
    asked for (config.middleware.AuthenticationMiddleware)."""
    token = _session.set(session)
    try:
        yield
    finally:
        _session.reset(token)


class PermissionBackend(ModelBackend):
    """ModelBackend reads the user, then their own permissions and their groups' in two more
    queries, on every request that checks one; here the session reads all three with itself,
    or one query does (each decision checks one). A user given otherwise (a login) has theirs
    read when first asked."""

    def get_user(self, user_id):
        """The request's user, with their permissions (a superuser's are all, read if asked)."""
        session = _session.get()
        user = getattr(session, "user_read", None) if session is not None else None
        if user is None or user.pk != user_id:
            user = self._read(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None

    def _read(self, user_id):
        columns = user_columns()
        with rows.cursor() as cursor:
            cursor.execute(f"""SELECT {columns.sql}, {PERMISSIONS}
                               FROM {columns.model._meta.db_table} u WHERE u.id = %(user)s""",
                           {"user": user_id})
            row = cursor.fetchone()
        return user_from_row(row[:-1], row[-1]) if row is not None else None

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            with rows.cursor() as cursor:
                if user_obj.is_superuser:
                    cursor.execute(_ALL_PERMISSIONS)
                else:
                    cursor.execute(_PERMISSIONS, {"user": user_obj.pk})
                user_obj._perm_cache = {f"{app}.{codename}" for app, codename in cursor.fetchall()}
        return user_obj._perm_cache


def user_from_row(values, permissions: list[str] | None):
    """A user from their columns (user_columns), with their permissions when read with them."""
    user = user_columns().make(values)
    if permissions is not None:
        user._perm_cache = set(permissions)
    return user


def user_columns() -> Columns:
    """The user's columns under the alias u."""
    return rows.columns(get_user_model(), "u")
