"""Entity links in the side list, the entity pages, and renaming and merging entities."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotation import decisions
from annotation.models import Entity, Event, Label, Mention
from corpus.models import Article
from tests.factories import ArticleFactory, MentionFactory

HTMX = {"HX-Request": "true"}
TEXT = "Habib Essid visited Ben Guerdane on Monday. Essid said 36 attackers were killed."


def label(name: str) -> Label:
    return Label.objects.get(name=name)


def confirmed(article, text: str, label_name: str = "ACTOR", *, after: int = 0, by) -> Mention:
    start = article.text.index(text, after)
    mention = MentionFactory(article=article, start=start, end=start + len(text), label=label(label_name))
    return decisions.confirm(mention.pk, version=mention.version, by=by)


@pytest.fixture
def surname(analyst):
    """"Essid" confirmed after "Habib Essid": linked to him, waiting for the analyst to accept."""
    article = ArticleFactory(text=TEXT, status=Article.Status.PRETAGGED)
    confirmed(article, "Habib Essid", by=analyst)
    return confirmed(article, "Essid", after=12, by=analyst)


def link_url(action: str, mention: Mention) -> str:
    return reverse(f"annotation:{action}_link", args=[mention.pk])


def link_events() -> int:
    return Event.objects.filter(action="mention.link").count()


# The link in the side list

def test_article_page_shows_a_suggested_link_with_its_reason_and_actions(analyst_client, surname):
    html = analyst_client.get(surname.article.get_absolute_url()).content.decode()
    entity = surname.entity
    assert f'→ <a href="/entities/{entity.pk}/">Habib Essid</a>' in html
    assert "surname of Habib Essid?" in html
    assert 'class="entity-link is-pending" data-entity="Habib Essid" data-pending="1"' in html
    # The actions on the selected mention, links included, sit in one panel beside the list.
    assert 'data-action="link/accept"' in html and 'data-action="link/change"' in html


def test_accepting_a_link_returns_the_row_out_of_band_and_keeps_the_name_as_an_alias(
        analyst_client, analyst, surname):
    before = link_events()
    response = analyst_client.post(link_url("accept", surname), headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="messages"') and "<html" not in html
    assert f'<li id="mention-row-{surname.pk}" class="mention-row is-confirmed" data-mention="{surname.pk}" hx-swap-oob="true">' in html
    assert f'<mark id="mention-{surname.pk}"' in html
    assert "surname of Habib Essid?" not in html and "link/accept/" not in html
    surname.refresh_from_db()
    assert surname.entity_accepted and surname.entity.aliases == ["Essid"]
    assert link_events() == before + 1
    assert Event.objects.filter(action="mention.link").last().actor == analyst


def test_clearing_a_link_leaves_the_mention_without_an_entity(analyst_client, surname):
    before = link_events()
    response = analyst_client.post(link_url("clear", surname), headers=HTMX)
    assert response.status_code == 200
    assert "→ no entity" in response.content.decode()
    surname.refresh_from_db()
    assert (surname.entity, surname.link_reason) == (None, "cleared by the analyst")
    assert link_events() == before + 1


def test_changing_a_link_links_to_the_named_entity_and_creates_it_if_missing(analyst_client, surname):
    response = analyst_client.post(link_url("change", surname), {"name": "Beji Caid Essebsi"},
                                   headers=HTMX)
    assert response.status_code == 200
    surname.refresh_from_db()
    assert (surname.entity.name, surname.entity.label.name) == ("Beji Caid Essebsi", "ACTOR")
    assert surname.entity_accepted and surname.entity.aliases == ["Essid"]
    assert f'<a href="/entities/{surname.entity.pk}/">Beji Caid Essebsi</a>' in response.content.decode()
    assert Event.objects.filter(action="mention.link", subject_id=surname.pk).last().after["entity"] == \
        surname.entity.pk


def test_changing_a_link_to_a_known_alias_reuses_that_entity(analyst_client, surname):
    president = Entity.objects.create(name="Beji Caid Essebsi", aliases=["Essebsi"], label=label("ACTOR"))
    analyst_client.post(link_url("change", surname), {"name": "  ESSEBSI "}, headers=HTMX)
    surname.refresh_from_db()
    assert surname.entity == president
    assert Entity.objects.filter(label__name="ACTOR").count() == 2


@pytest.mark.parametrize("name", ["", "   ", "x" * 301])
def test_an_empty_or_overlong_name_is_refused_with_422(analyst_client, surname, name):
    before = link_events()
    response = analyst_client.post(link_url("change", surname), {"name": name}, headers=HTMX)
    assert response.status_code == 422
    assert response["Content-Type"].startswith("text/plain")
    assert b"Give the name" in response.content or b"at most 300 characters" in response.content
    surname.refresh_from_db()
    assert surname.entity.name == "Habib Essid" and link_events() == before


def test_a_rejected_mention_cannot_be_linked(analyst_client, analyst, surname):
    decisions.reject(surname.pk, version=surname.version, by=analyst)
    response = analyst_client.post(link_url("change", surname), {"name": "Someone"}, headers=HTMX)
    assert response.status_code == 409
    assert "not a confirmed actor, group or place" in response.content.decode()
    assert not Entity.objects.filter(name="Someone").exists()


def test_a_replayed_link_decision_gets_the_same_answer_and_changes_once(analyst_client, surname):
    before = link_events()
    headers = {**HTMX, "Idempotency-Key": "link-accept-0001"}
    first = analyst_client.post(link_url("accept", surname), headers=headers)
    second = analyst_client.post(link_url("accept", surname), headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content and second["Idempotent-Replay"] == "true"
    assert link_events() == before + 1


def test_without_htmx_a_link_decision_redirects_to_the_row(analyst_client, surname):
    response = analyst_client.post(link_url("accept", surname))
    assert response.status_code == 302
    assert response["Location"] == f"{surname.article.get_absolute_url()}#mention-row-{surname.pk}"


@pytest.mark.parametrize("action", ["accept", "clear", "change"])
def test_reviewer_cannot_change_links(client, reviewer, surname, action):
    client.force_login(reviewer)
    response = client.post(link_url(action, surname), {"name": "Someone"}, headers=HTMX)
    assert response.status_code == 403
    surname.refresh_from_db()
    assert not surname.entity_accepted and surname.entity.name == "Habib Essid"


def test_anonymous_visitor_is_sent_to_login_before_changing_a_link(client, surname):
    response = client.post(link_url("clear", surname), headers=HTMX)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    surname.refresh_from_db()
    assert surname.entity is not None


def test_article_page_query_count_does_not_grow_with_linked_mentions(analyst_client, analyst):
    counts = []
    for size in (3, 30):
        article = ArticleFactory(text="Essid met Ghanmi. " * size, status=Article.Status.IN_PROGRESS)
        entity = Entity.objects.create(name=f"Habib Essid {size}", label=label("ACTOR"))
        Mention.objects.bulk_create(
            Mention(article=article, start=i * 18, end=i * 18 + 5, text="Essid", label=label("ACTOR"),
                    status="confirmed", entity=entity, entity_accepted=bool(i % 2),
                    link_reason="surname of Habib Essid") for i in range(size))
        with CaptureQueriesContext(connection) as context:
            response = analyst_client.get(article.get_absolute_url())
        assert response.status_code == 200
        assert response.content.count(b'data-pending="1"') == (size + 1) // 2
        counts.append(len(context.captured_queries))
    assert counts[0] == counts[1]


# The list of entities

@pytest.fixture
def entities(db):
    return {
        "isis": Entity.objects.create(name="Islamic State", aliases=["ISIS", "Daesh"], label=label("GROUP")),
        "essid": Entity.objects.create(name="Habib Essid", aliases=["Essid"], label=label("ACTOR")),
        "guerdane": Entity.objects.create(name="Ben Guerdane", label=label("PLACE")),
        "tunisia": Entity.objects.create(name="Tunisia", label=label("PLACE")),
    }


def listed(client, **params) -> str:
    response = client.get(reverse("annotation:entity_list"), params)
    assert response.status_code == 200
    return response.content.decode()


def test_entity_list_search_by_alias_finds_the_entity(analyst_client, entities):
    html = listed(analyst_client, q="daesh")
    assert ">Islamic State</a>" in html
    assert "Habib Essid" not in html and "Tunisia" not in html


def test_entity_list_search_finds_part_of_a_name(analyst_client, entities):
    html = listed(analyst_client, q="essid")
    assert ">Habib Essid</a>" in html and "Islamic State" not in html


def test_entity_list_search_finds_a_spelling_variant(analyst_client, entities):
    assert ">Ben Guerdane</a>" in listed(analyst_client, q="Ben Gardane")


def test_entity_list_filters_by_label(analyst_client, entities):
    html = listed(analyst_client, label="PLACE")
    assert ">Ben Guerdane</a>" in html and ">Tunisia</a>" in html
    assert "Islamic State" not in html and "Habib Essid" not in html


def test_entity_list_counts_standing_mentions(analyst_client, analyst, surname):
    MentionFactory(article=surname.article, start=20, end=32, label=label("PLACE"),
                   status="rejected", entity=surname.entity)
    html = listed(analyst_client, q="Habib Essid")
    assert '<td class="num">2</td>' in html


# The page of one entity

def test_entity_page_shows_the_sentence_around_each_mention_across_articles(analyst_client, analyst):
    first = ArticleFactory(text="Tunisia is calm. Ben Guerdane was attacked at dawn. Troops arrived.")
    second = ArticleFactory(text="Report.\nSmugglers cross near Ben Guerdane every night\nMore later.")
    one = confirmed(first, "Ben Guerdane", "PLACE", by=analyst)
    two = confirmed(second, "Ben Guerdane", "PLACE", by=analyst)
    response = analyst_client.get(one.entity.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200 and two.entity == one.entity
    assert 'data-marker="P">Ben Guerdane</mark> was attacked at dawn.</blockquote>' in html
    assert '<blockquote class="sentence">Smugglers cross near <mark' in html
    assert "Ben Guerdane</mark> every night</blockquote>" in html
    assert f'href="{first.get_absolute_url()}#mention-{one.pk}"' in html
    assert f'href="{second.get_absolute_url()}#mention-{two.pk}"' in html


def test_entity_page_escapes_the_text_around_a_mention(analyst_client, analyst):
    article = ArticleFactory(text="<script>alert(1)</script> Habib Essid spoke.")
    mention = confirmed(article, "Habib Essid", by=analyst)
    html = analyst_client.get(mention.entity.get_absolute_url()).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <mark" in html
    assert "<script>alert(1)" not in html


def test_entity_page_cuts_a_long_sentence_with_an_ellipsis(analyst_client, analyst):
    article = ArticleFactory(text="word " * 200 + "Habib Essid " + "word " * 200)
    mention = confirmed(article, "Habib Essid", by=analyst)
    html = analyst_client.get(mention.entity.get_absolute_url()).content.decode()
    assert '<blockquote class="sentence">…word' in html and "word…</blockquote>" in html


def test_entity_page_query_count_does_not_grow_with_the_mentions(analyst_client):
    counts = []
    for size in (5, 60):
        entity = Entity.objects.create(name=f"Habib Essid {size}", label=label("ACTOR"))
        for part, half in enumerate((size // 2, size - size // 2)):  # across two articles
            article = ArticleFactory(text="Essid spoke. " * half + f"Part {part} of {size}.")
            Mention.objects.bulk_create(
                Mention(article=article, start=i * 13, end=i * 13 + 5, text="Essid", label=label("ACTOR"),
                        status="confirmed", entity=entity) for i in range(half))
        with CaptureQueriesContext(connection) as context:
            response = analyst_client.get(entity.get_absolute_url())
        assert response.status_code == 200
        assert response.content.count(b'<blockquote class="sentence">') == min(size, 50)
        counts.append(len(context.captured_queries))
    assert counts[0] == counts[1]


def test_entity_page_shows_rename_and_merge_only_to_whoever_may_use_them(
        client, analyst, admin_user, entities):
    url = entities["essid"].get_absolute_url()
    client.force_login(analyst)
    assert b'id="rename-form"' not in client.get(url).content
    client.force_login(admin_user)
    html = client.get(url).content.decode()
    assert 'id="rename-form"' in html and 'id="merge-form"' in html


# Renaming and merging

def rename_url(entity):
    return reverse("annotation:rename_entity", args=[entity.pk])


def merge_url(entity):
    return reverse("annotation:merge_entity", args=[entity.pk])


def test_admin_renames_an_entity_and_the_old_name_becomes_an_alias(client, admin_user, entities):
    client.force_login(admin_user)
    response = client.post(rename_url(entities["isis"]), {"name": "ISIL"})
    assert response.status_code == 302 and response["Location"] == entities["isis"].get_absolute_url()
    entity = Entity.objects.get(pk=entities["isis"].pk)
    assert entity.name == "ISIL" and "Islamic State" in entity.aliases
    assert Event.objects.get(action="entity.rename").actor == admin_user


def test_rename_with_htmx_redirects_the_client(client, admin_user, entities):
    client.force_login(admin_user)
    response = client.post(rename_url(entities["isis"]), {"name": "ISIL"}, headers=HTMX)
    assert response.status_code == 200 and response["HX-Redirect"] == entities["isis"].get_absolute_url()


def test_renaming_to_the_name_of_another_entity_returns_422_with_the_form(client, admin_user, entities):
    Entity.objects.create(name="ISIL", label=label("GROUP"))
    client.force_login(admin_user)
    response = client.post(rename_url(entities["isis"]), {"name": "isil"}, headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 422
    assert html.lstrip().startswith('<form id="rename-form"') and "<html" not in html
    assert "Another GROUP is already called isil: merge into it instead." in html
    assert Entity.objects.get(pk=entities["isis"].pk).name == "Islamic State"


def test_renaming_to_an_empty_name_returns_422(client, admin_user, entities):
    client.force_login(admin_user)
    response = client.post(rename_url(entities["isis"]), {"name": " "}, headers=HTMX)
    assert response.status_code == 422 and b"Give the name of the entity." in response.content


@pytest.mark.parametrize("action", ["rename", "merge"])
def test_analyst_cannot_rename_or_merge_entities(analyst_client, entities, action):
    url = rename_url(entities["isis"]) if action == "rename" else merge_url(entities["isis"])
    response = analyst_client.post(url, {"name": "ISIL", "into": "Tunisia"}, headers=HTMX)
    assert response.status_code == 403
    assert Entity.objects.get(pk=entities["isis"].pk).name == "Islamic State"


def test_merge_moves_the_mentions_and_redirects_to_the_target(client, admin_user, analyst, entities):
    article = ArticleFactory(text="Daesh fighters and IS fighters.")
    source = Entity.objects.create(name="Daesh fighters", label=label("GROUP"))
    MentionFactory(article=article, start=0, end=14, label=label("GROUP"), status="confirmed", entity=source)
    client.force_login(admin_user)
    response = client.post(merge_url(source), {"into": "daesh"})
    target = entities["isis"]
    assert response.status_code == 302 and response["Location"] == target.get_absolute_url()
    assert not Entity.objects.filter(pk=source.pk).exists()
    assert Mention.objects.get().entity == target
    assert "Daesh fighters" in Entity.objects.get(pk=target.pk).aliases
    assert Event.objects.get(action="entity.merge").actor == admin_user


def test_merging_entities_of_different_labels_returns_422_with_the_reason(client, admin_user, entities):
    client.force_login(admin_user)
    response = client.post(merge_url(entities["isis"]), {"into": "Tunisia"}, headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 422
    assert html.lstrip().startswith('<form id="merge-form"') and "<html" not in html
    assert "Islamic State is a GROUP and Tunisia a PLACE: relabel first, then merge." in html
    assert 'value="Tunisia"' in html
    assert Entity.objects.filter(pk=entities["isis"].pk).exists()


def test_merging_into_an_unknown_name_returns_422(client, admin_user, entities):
    client.force_login(admin_user)
    response = client.post(merge_url(entities["isis"]), {"into": "Nobody"}, headers=HTMX)
    assert response.status_code == 422 and b"No entity is called Nobody." in response.content


def test_without_htmx_an_invalid_merge_shows_the_whole_page_with_the_message(client, admin_user, entities):
    client.force_login(admin_user)
    response = client.post(merge_url(entities["isis"]), {"into": "Islamic State"})
    html = response.content.decode()
    assert response.status_code == 422 and "<html" in html
    assert "An entity cannot be merged into itself." in html
