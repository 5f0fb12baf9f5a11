"""The permission matrix: every URL of the app, for every role and for an anonymous visitor.

Each URL name is listed with the roles allowed to use it. A URL added to the app without an entry
here fails `test_every_url_is_in_the_matrix`, so no view escapes the check. Allowed: anything but
403 and the redirect to the login page. Refused: 403 for a logged-in user (a page, or for htmx a
message fragment), the login page for an anonymous visitor.
"""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from annotation.models import Entity, Label
from corpus.models import Article, ImportBatch
from tests.factories import ArticleFactory, ClaimFactory, MentionFactory, UserFactory

ALL = {"analyst", "reviewer", "admin"}
ANALYSTS = {"analyst", "admin"}
REVIEWERS = {"reviewer", "admin"}
ADMINS = {"admin"}
PUBLIC = {"anonymous", "stranger", *ALL}
USERS = ["anonymous", "stranger", "analyst", "reviewer", "admin"]

# name: (method, roles allowed, the object its argument names)
MATRIX = {
    "home": ("GET", PUBLIC, None),
    "login": ("GET", PUBLIC, None),
    "logout": ("POST", PUBLIC, None),
    "service_worker": ("GET", PUBLIC, None),
    "annotation:label_css": ("GET", PUBLIC, None),
    "corpus:article_list": ("GET", ALL, None),
    "corpus:search": ("GET", ALL, None),
    "annotation:article_detail": ("GET", ALL, "article"),
    "annotation:article_history": ("GET", ALL, "article"),
    "annotation:entity_list": ("GET", ALL, None),
    "annotation:entity_detail": ("GET", ALL, "entity"),
    "annotation:claim_detail": ("GET", ALL, "claim"),
    "annotation:claim_links": ("GET", ALL, "claim"),
    "annotation:figure_list": ("GET", ALL, None),
    "annotation:my_articles": ("GET", ALL, None),
    # Annotating: analysts (and admins, who hold every permission of the app).
    **{f"annotation:{name}": ("POST", ANALYSTS, "mention") for name in (
        "confirm_mention", "reject_mention", "relabel_mention", "resize_mention", "delete_mention",
        "accept_link", "clear_link", "change_link")},
    **{f"annotation:{name}": ("POST", ANALYSTS, "claim") for name in (
        "confirm_claim", "reject_claim", "resize_claim", "span_claim", "speaker_claim", "cue_claim",
        "delete_claim", "link_claim", "unlink_claim")},
    **{f"annotation:{name}": ("POST", ANALYSTS, "article") for name in (
        "add_mention", "undo_decision", "confirm_all", "submit_article", "add_claim")},
    # Grading: analysts and reviewers.
    "annotation:grade_claim": ("POST", ALL, "claim"),
    "annotation:grade_entity": ("POST", ALL, "entity"),
    "annotation:grade_source": ("POST", ALL, "source"),
    # Curating entities: admins.
    "annotation:rename_entity": ("POST", ADMINS, "entity"),
    "annotation:merge_entity": ("POST", ADMINS, "entity"),
    # Review.
    "annotation:review_list": ("GET", REVIEWERS, None),
    "annotation:article_review": ("GET", REVIEWERS, "article"),
    "annotation:approve_article": ("POST", REVIEWERS, "article"),
    "annotation:return_article": ("POST", REVIEWERS, "article"),
    "annotation:reopen_article": ("POST", REVIEWERS, "article"),
    "annotation:adjudicate_article": ("POST", REVIEWERS, "article"),
    "annotation:assign_articles": ("POST", REVIEWERS, None),
    # Imports and exports: admins.
    "corpus:import_list": ("GET", ADMINS, None),
    "corpus:batch_detail": ("GET", ADMINS, "batch"),
    "corpus:rerun_batch": ("POST", ADMINS, "batch"),
    "annotation:export_page": ("GET", ADMINS, None),
    "annotation:download_export": ("GET", ADMINS, None),
}


def app_urls(patterns=None, namespace=""):
    """(name, pattern) of every named URL outside the Django admin, which guards itself."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            if pattern.app_name == "admin":
                continue
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from app_urls(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern):
            yield f"{namespace}{pattern.name}", pattern


def test_every_url_is_in_the_matrix():
    assert {name for name, _ in app_urls()} == set(MATRIX)


@pytest.fixture
def objects(db):
    article = ArticleFactory(status=Article.Status.PRETAGGED)
    mention = MentionFactory(article=article, start=0, end=6)
    claim = ClaimFactory(article=article, start=10, end=30)
    entity = Entity.objects.create(name="Habib Essid", label=Label.objects.get(name="ACTOR"))
    return {"article": article.pk, "mention": mention.pk, "claim": claim.pk, "entity": entity.pk,
            "source": article.source_id, "batch": ImportBatch.objects.create().pk}


@pytest.fixture
def users(db):
    admin = UserFactory(username="adele", roles=["admin"], is_staff=True)  # the role, not a superuser
    assert not admin.is_superuser
    return {"stranger": UserFactory(username="sam"), "analyst": UserFactory(username="alice", roles=["analyst"]),
            "reviewer": UserFactory(username="rita", roles=["reviewer"]), "admin": admin}


def _request(client: Client, name: str, objects: dict, **headers):
    method, _, kind = MATRIX[name]
    url = reverse(name, args=[objects[kind]] if kind else [])
    return getattr(client, method.lower())(url, headers=headers)


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_each_role_gets_what_it_may_and_nothing_more(name, objects, users):
    allowed_roles = MATRIX[name][1]
    for who in USERS:
        client = Client()
        if who != "anonymous":
            client.force_login(users[who])
        response = _request(client, name, objects)
        to_login = (response.status_code == 302 and response["Location"].startswith(reverse("login"))
                    and name != "logout")  # logging out ends on the login page: its answer
        if who in allowed_roles:
            assert response.status_code != 403 and not to_login, (name, who, response.status_code)
        elif who == "anonymous":
            assert to_login, (name, who, response.status_code)
        else:
            assert response.status_code == 403, (name, who, response.status_code)
            assert "not allowed" in response.content.decode()


def test_refusal_is_a_page_for_a_page_and_a_fragment_for_htmx(client, objects, users):
    client.force_login(users["reviewer"])
    page = _request(client, "annotation:confirm_mention", objects)
    assert page.status_code == 403 and "<html" in page.content.decode()
    fragment = _request(client, "annotation:confirm_mention", objects, **{"HX-Request": "true"})
    html = fragment.content.decode()
    assert fragment.status_code == 403 and "<html" not in html and 'id="messages"' in html
    assert (fragment["HX-Retarget"], fragment["HX-Reswap"]) == ("#messages", "outerHTML")


def test_the_roles_are_groups_made_by_migrations(db):
    assert set(Group.objects.values_list("name", flat=True)) >= {"analyst", "reviewer", "admin"}
