"""Authentication backend: Django's, with a user's permissions read with the user, in one query."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import connection
from django.db.models.expressions import RawSQL

# A user's own permissions and their groups' as "app_label.codename", in one round trip
# (ModelBackend makes two, and an OR over both many-to-many joins costs PostgreSQL more).
_PERMISSIONS = """
    SELECT ct.app_label || '.' || p.codename
    FROM auth_permission p JOIN django_content_type ct ON ct.id = p.content_type_id
    WHERE p.id IN (SELECT up.permission_id FROM auth_user_user_permissions up
                   WHERE up.user_id = %s
                   UNION
                   SELECT gp.permission_id FROM auth_group_permissions gp
                   JOIN auth_user_groups ug ON ug.group_id = gp.group_id
                   WHERE ug.user_id = %s)"""
_ALL_PERMISSIONS = """
    SELECT ct.app_label || '.' || p.codename
    FROM auth_permission p JOIN django_content_type ct ON ct.id = p.content_type_id"""


class PermissionBackend(ModelBackend):
    """ModelBackend reads the user of a request in one query, and their permissions, on every
    request that checks one, in two more; this reads the user and their permissions at once
    (every decision and most pages check one)."""

    def get_user(self, user_id):
        user = (get_user_model()._default_manager
                .annotate(permission_names=RawSQL(f"ARRAY({_PERMISSIONS})", [user_id, user_id]))
                .filter(pk=user_id).first())
        if user is None or not self.user_can_authenticate(user):
            return None
        if not user.is_superuser:  # a superuser holds every permission: read when asked
            user._perm_cache = set(user.permission_names)
        return user

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            with connection.cursor() as cursor:
                if user_obj.is_superuser:
                    cursor.execute(_ALL_PERMISSIONS)
                else:
                    cursor.execute(_PERMISSIONS, [user_obj.pk, user_obj.pk])
                user_obj._perm_cache = {name for name, in cursor.fetchall()}
        return user_obj._perm_cache
