"""Authentication backend: Django's, with a user's permissions read in one query, and the user
of each request read with plain SQL (see config/rows.py)."""

import functools

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import connection

from config.rows import Columns

# A user's own permissions and their groups', in one round trip (ModelBackend makes two, and an
# OR over both many-to-many joins costs PostgreSQL more than the two).
_PERMISSIONS = """
    SELECT ct.app_label, p.codename
    FROM auth_permission p JOIN django_content_type ct ON ct.id = p.content_type_id
    WHERE p.id IN (SELECT up.permission_id FROM auth_user_user_permissions up
                   WHERE up.user_id = %(user)s
                   UNION
                   SELECT gp.permission_id FROM auth_group_permissions gp
                   JOIN auth_user_groups ug ON ug.group_id = gp.group_id
                   WHERE ug.user_id = %(user)s)"""
_ALL_PERMISSIONS = """
    SELECT ct.app_label, p.codename
    FROM auth_permission p JOIN django_content_type ct ON ct.id = p.content_type_id"""


class PermissionBackend(ModelBackend):
    """ModelBackend reads a user's own permissions and their groups' in two queries, on every
    request that checks one; this reads both at once (each decision checks one)."""

    def get_user(self, user_id):
        columns = _user_columns()
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {columns.sql} FROM {columns.model._meta.db_table} u WHERE u.id = %s",
                           [user_id])
            row = cursor.fetchone()
        if row is None:
            return None
        user = columns.make(row)
        return user if self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            with connection.cursor() as cursor:
                if user_obj.is_superuser:
                    cursor.execute(_ALL_PERMISSIONS)
                else:
                    cursor.execute(_PERMISSIONS, {"user": user_obj.pk})
                user_obj._perm_cache = {f"{app}.{codename}" for app, codename in cursor.fetchall()}
        return user_obj._perm_cache


@functools.cache
def _user_columns() -> Columns:
    return Columns(get_user_model(), "u")
