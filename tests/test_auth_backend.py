"""The authentication backend reads a request's user and their permissions in one query."""

from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from config.auth import PermissionBackend


def test_the_user_comes_with_their_own_and_their_groups_permissions_in_one_query(db):
    user = User.objects.create_user("carol", password="x")
    user.groups.add(Group.objects.get(name="analyst"))
    user.user_permissions.add(Permission.objects.get(codename="view_importbatch"))
    backend = PermissionBackend()
    with CaptureQueriesContext(connection) as queries:
        loaded = backend.get_user(user.pk)
        assert loaded.has_perm("annotation.change_mention")  # the group's
        assert loaded.has_perm("corpus.view_importbatch")  # their own
        assert not loaded.has_perm("corpus.review_article")
    assert len(queries) == 1
    assert backend.get_all_permissions(loaded) == {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.filter(group__user=user) | Permission.objects.filter(user=user)}


def test_an_inactive_or_missing_user_is_nobody_and_a_superuser_holds_every_permission(db):
    backend = PermissionBackend()
    inactive = User.objects.create_user("dave", password="x", is_active=False)
    assert backend.get_user(inactive.pk) is None
    assert backend.get_user(10**9) is None
    boss = backend.get_user(User.objects.create_superuser("erin", password="x").pk)
    assert boss.has_perm("corpus.review_article")
    assert len(backend.get_all_permissions(boss)) == Permission.objects.count()


def test_a_page_that_checks_a_permission_reads_no_permission_apart_from_the_user(client, db):
    user = User.objects.create_user("frank", password="x")
    user.groups.add(Group.objects.get(name="analyst"))
    client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("corpus:article_list")).status_code == 200  # corpus.view_article
    users = [q["sql"] for q in queries if 'FROM "auth_user"' in q["sql"]]
    permissions = [q["sql"] for q in queries if "auth_permission" in q["sql"]]
    assert len(users) == 1 and permissions == users
